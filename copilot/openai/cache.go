package openai

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/vigilops/vigil/copilot"
)

// lru is a fixed-size least-recently-used cache of replies keyed by a hash
// of the endpoint and the exact request body.
type lru struct {
	size int
	mtx  sync.Mutex // protects ll and m
	ll   *list.List // front is most recent; values are *entry
	m    map[string]*list.Element
}

type entry struct {
	key  string
	resp copilot.Response
}

func newLRU(size int) *lru {
	return &lru{size: size, ll: list.New(), m: make(map[string]*list.Element, size)}
}

func cacheKey(endpoint string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(endpoint))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func (c *lru) get(key string) (copilot.Response, bool) {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	e, ok := c.m[key]
	if !ok {
		return copilot.Response{}, false
	}
	c.ll.MoveToFront(e)
	return cloneResponse(e.Value.(*entry).resp), true
}

func (c *lru) add(key string, r copilot.Response) {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	if e, ok := c.m[key]; ok {
		e.Value.(*entry).resp = cloneResponse(r)
		c.ll.MoveToFront(e)
		return
	}
	c.m[key] = c.ll.PushFront(&entry{key: key, resp: cloneResponse(r)})
	if c.ll.Len() > c.size {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*entry).key)
	}
}

func (c *lru) len() int {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	return c.ll.Len()
}

// cloneResponse copies the slices so callers cannot alter cached replies.
func cloneResponse(r copilot.Response) copilot.Response {
	if r.ToolCalls != nil {
		calls := make([]copilot.ToolCall, len(r.ToolCalls))
		for i, tc := range r.ToolCalls {
			tc.Arguments = append([]byte(nil), tc.Arguments...)
			calls[i] = tc
		}
		r.ToolCalls = calls
	}
	return r
}
