package logtemplate

import (
	"hash/maphash"
	"sync"
)

// scratch holds the per-call working memory of Add and Match: the message's
// tokens, their masked forms and their variables. It is pooled so that
// masking (the costly part) runs outside the Miner's lock without
// allocating.
type scratch struct {
	msg    string
	tokens []token
	w      maskWriter
	alt    []byte // spare buffer for rewriting w.buf
	hash   uint64 // of the masked line, see key
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{
		tokens: make([]token, 0, 64),
		w:      maskWriter{buf: make([]byte, 0, 512), spans: make([]span, 0, 64)},
	}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	// Do not keep the memory of one huge line forever.
	if cap(s.w.buf) > 64<<10 || cap(s.tokens) > 4096 {
		return
	}
	s.msg = ""
	scratchPool.Put(s)
}

var hashSeed = maphash.MakeSeed()

// maxTokenBytes bounds the tokens kept as template text: longer ones are
// parameters. (The longest token of the Loghub-2k samples has 169 bytes.)
const maxTokenBytes = 512

// maxLineBytes bounds the part of a message that is read.
const maxLineBytes = 1 << 30

func isSpace(c byte) bool { return class[c]&cSpace != 0 }

// mask tokenises msg at ASCII white space and masks every token. Tokens
// beyond maxTokens-1 are folded into one last token that is a parameter, so
// that one pathological line cannot make a cluster of unbounded size.
func (s *scratch) mask(msg string, maxTokens int) {
	if len(msg) > maxLineBytes {
		msg = msg[:maxLineBytes] // offsets are int32
	}
	s.msg = msg
	s.tokens = s.tokens[:0]
	w := &s.w
	w.buf = w.buf[:0]
	w.spans = w.spans[:0]
	i := 0
	clocks := false
	for {
		for i < len(msg) && isSpace(msg[i]) {
			i++
		}
		if i >= len(msg) {
			break
		}
		j, f := scanToken(msg, i)
		if len(s.tokens) == maxTokens-1 {
			// Fold the rest of the line, trailing space trimmed.
			end := len(msg)
			for end > i && isSpace(msg[end-1]) {
				end--
			}
			j = end
			s.tokens = append(s.tokens, token{off: int32(i), end: int32(j), mStart: int32(len(w.buf)), sStart: int32(len(w.spans))})
			w.lastVar = -1
			w.v(i, j)
			s.finish()
			break
		}
		s.tokens = append(s.tokens, token{off: int32(i), end: int32(j), mStart: int32(len(w.buf)), sStart: int32(len(w.spans))})
		if j-i > maxTokenBytes {
			// A blob (base64, a serialised object): data, not template
			// text, and a template must not keep it as a constant.
			w.lastVar = -1
			w.v(i, j)
		} else {
			w.maskToken(msg[i:j], i, f)
		}
		s.finish()
		if isDigit(msg[i]) && isClock(msg[i:j]) {
			clocks = true
		}
		i = j
	}
	if clocks {
		s.dates()
	}
	s.hash = maphash.Bytes(hashSeed, w.buf)
}

// dates makes the names of months and week days that precede a time of day
// parameters ("Fri Jun 17 07:07:00 2005"): they belong to a timestamp.
func (s *scratch) dates() {
	var marks uint64 // tokens to mask, by index (the first 64 suffice)
	for c := range s.tokens {
		if c >= 64 || !s.tokens[c].hasVar || !isClock(s.raw(c)) {
			continue
		}
		for k := c - 1; k >= 0 && k >= c-3; k-- {
			if !s.tokens[k].hasVar && isDateWord(s.raw(k)) {
				marks |= 1 << k
			}
		}
	}
	if marks == 0 {
		return
	}
	w := &s.w
	alt := s.alt[:0]
	for k := range s.tokens {
		t := &s.tokens[k]
		m := w.buf[t.mStart:t.mEnd]
		t.mStart = int32(len(alt))
		if marks&(1<<k) != 0 {
			alt = append(alt, wildcard...)
			t.sStart = int32(len(w.spans))
			w.spans = append(w.spans, span{t.off, t.end})
			t.sEnd = int32(len(w.spans))
			t.hasVar, t.allVar, t.informativ = true, true, false
		} else {
			alt = append(alt, m...)
		}
		t.mEnd = int32(len(alt))
		alt = append(alt, 0)
	}
	s.alt, w.buf = w.buf, alt
}

// finish records the masked form of the last token, which was just
// written, and a separator so that the hash of the line tells token
// boundaries apart.
func (s *scratch) finish() {
	w := &s.w
	n := len(s.tokens)
	t := &s.tokens[n-1]
	t.mEnd = int32(len(w.buf))
	t.sEnd = int32(len(w.spans))
	t.hasVar = t.sEnd > t.sStart
	m := w.buf[t.mStart:t.mEnd]
	t.allVar = len(m) == 3 && t.hasVar
	t.informativ = informative(m, t.hasVar)
	if n > 1 && !t.hasVar && endsWithVar(w.buf, &s.tokens[n-2]) {
		t.unit = isUnit(s.msg[t.off:t.end])
	}
	w.buf = append(w.buf, 0)
}

// endsWithVar reports whether token t's masked form ends with a
// parameter, as "1.16" and "(1.16" do.
func endsWithVar(buf []byte, t *token) bool {
	m := buf[t.mStart:t.mEnd]
	return t.hasVar && len(m) >= 3 && string(m[len(m)-3:]) == wildcard
}

// raw returns token i as it appears in the message.
func (s *scratch) raw(i int) string {
	t := &s.tokens[i]
	return s.msg[t.off:t.end]
}

// masked returns the masked form of token i. The result aliases the
// scratch buffer: compare it, do not keep it.
func (s *scratch) masked(i int) []byte {
	t := &s.tokens[i]
	return s.w.buf[t.mStart:t.mEnd]
}

// params returns the variables of token i as substrings of the message.
func (s *scratch) vars(i int) []span {
	t := &s.tokens[i]
	return s.w.spans[t.sStart:t.sEnd]
}

// informative reports whether a masked token carries constant text worth
// comparing: a letter, or (for punctuation such as "-" or "|") no parameter
// at all. "<*>", "<*>:<*>" or "(<*>)" are not informative: where both a line
// and a template hold such tokens, the position neither supports nor
// contradicts the match.
func informative(m []byte, hasVar bool) bool {
	if !hasVar {
		return len(m) > 0
	}
	for i := 0; i < len(m); i++ {
		if isLetter(m[i]) {
			return true
		}
	}
	return false
}
