package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				_, _ = b.Write([]byte("ab"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if s := b.String(); len(s) != 1600 || strings.Count(s, "ab") != 800 {
		t.Fatalf("got %d bytes, %d pairs; want 1600, 800", len(s), strings.Count(s, "ab"))
	}
}
