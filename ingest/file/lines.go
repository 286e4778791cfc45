package file

import "bytes"

// lineSplitter cuts a file's bytes, fed in chunks as they are read, into
// lines terminated by LF, and tracks the file offset just past each line
// so the tailer knows what position a delivered line allows it to save.
//
// The unfinished last line is held (at most max bytes) until its LF
// arrives. A line longer than max keeps its first max bytes; the rest is
// skipped up to the LF, and the line is emitted, marked truncated, when
// the LF comes, so the position after it is the position after the whole
// line and a restart never reads its tail as a line of its own.
type lineSplitter struct {
	max int
	off int64 // file offset of the next byte to be fed
	// buf holds the start of the unfinished line, up to max bytes.
	buf []byte
	// dropping is set once the unfinished line passed max bytes.
	dropping bool
}

// emitFunc receives a line (without LF, and without CR before it), valid
// only during the call, and the file offset just past its LF.
type emitFunc func(line []byte, end int64, truncated bool)

// reset forgets any unfinished line and continues at off.
func (s *lineSplitter) reset(off int64) {
	s.off = off
	s.clear()
}

// pending reports whether an unfinished line is held.
func (s *lineSplitter) pending() bool { return len(s.buf) > 0 || s.dropping }

// feed splits p, the bytes at s.off, and emits each line it completes.
func (s *lineSplitter) feed(p []byte, emit emitFunc) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.hold(p)
			s.off += int64(len(p))
			return
		}
		s.off += int64(i) + 1
		var line []byte
		var truncated bool
		if !s.pending() {
			// The common case: the whole line is in p; no copy.
			line = p[:i]
			if len(line) > s.max {
				line, truncated = line[:s.max], true
			}
		} else {
			s.hold(p[:i])
			line, truncated = s.buf, s.dropping
		}
		emit(trimCR(line), s.off, truncated)
		s.clear()
		p = p[i+1:]
	}
}

// flush emits the unfinished line, if any, as a final line: its file will
// not grow any more.
func (s *lineSplitter) flush(emit emitFunc) {
	if !s.pending() {
		return
	}
	emit(trimCR(s.buf), s.off, s.dropping)
	s.clear()
}

// clear drops the held line, and its buffer when a long line grew it: a
// tailer may hold many files, few of which ever see long lines.
func (s *lineSplitter) clear() {
	if cap(s.buf) > 64<<10 {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}
	s.dropping = false
}

func (s *lineSplitter) hold(p []byte) {
	if s.dropping {
		return
	}
	if room := s.max - len(s.buf); len(p) > room {
		s.buf = append(s.buf, p[:room]...)
		s.dropping = true
		return
	}
	if s.buf == nil {
		s.buf = make([]byte, 0, min(max(len(p), 256), s.max))
	}
	s.buf = append(s.buf, p...)
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
