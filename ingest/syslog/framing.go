package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errFrameTooLarge reports a frame over the size limit; the framer has
// already skipped it and the next call reads the frame after it.
var errFrameTooLarge = errors.New("frame too large")

// errBadStream reports an octet count so large that skipping it makes no
// sense: the peer is not speaking syslog. The connection should be closed.
var errBadStream = errors.New("octet count out of range")

// framer splits a TCP byte stream into syslog frames (RFC 6587), choosing
// the framing per frame: a frame that starts with a digit is octet-counted
// ("LEN SP MSG"); any other is terminated by LF or NUL (non-transparent
// framing). A digit run not followed by a space is read as the start of a
// newline-terminated frame instead, so "2024-01-02 ..." lines still pass.
// Empty frames (blank lines, the LF some senders add after an
// octet-counted frame) are skipped.
//
// Memory is one buffer of max plus a few bytes; an oversize frame is
// skipped as it streams by, never buffered. A framer is used by one
// goroutine.
type framer struct {
	r   io.Reader
	max int
	// maxSkip bounds the octet count the framer skips over rather than
	// giving up on the stream.
	maxSkip    int64
	buf        []byte
	start, end int   // buf[start:end] is read but not yet framed
	err        error // sticky read error, returned once buf is drained
}

func newFramer(r io.Reader, max int) *framer {
	skip := int64(max) * 64
	if skip < 16<<20 {
		skip = 16 << 20
	}
	return &framer{r: r, max: max, maxSkip: skip, buf: make([]byte, max+maxFrameDigits+2)}
}

// next returns the next frame, valid until the following call. With
// errFrameTooLarge the stream is still usable; any other error ends it
// (io.EOF on a clean close; a last unterminated frame is returned first).
func (f *framer) next() ([]byte, error) {
	for {
		// Skip frame separators left between frames.
		for f.start < f.end && (f.buf[f.start] == '\n' || f.buf[f.start] == 0 || f.buf[f.start] == '\r') {
			f.start++
		}
		if f.start == f.end {
			if f.err != nil {
				return nil, f.err
			}
			f.fill()
			continue
		}
		if isDigit(f.buf[f.start]) {
			frame, err, handled := f.octetCounted()
			if handled {
				if frame == nil && err == nil {
					continue // "0 ", an empty frame
				}
				return frame, err
			}
		}
		return f.lineFramed()
	}
}

// octetCounted reads "LEN SP MSG". handled is false when the bytes at
// start are not an octet count after all (the caller reads a line).
func (f *framer) octetCounted() (frame []byte, err error, handled bool) {
	// Make sure the whole count and its space are buffered (or the stream
	// ended) before deciding.
	for {
		i := f.start
		for i < f.end && i-f.start <= maxFrameDigits && isDigit(f.buf[i]) {
			i++
		}
		if i < f.end || i-f.start > maxFrameDigits || f.err != nil {
			break
		}
		f.fill()
	}
	i, n := f.start, int64(0)
	for i < f.end && i-f.start < maxFrameDigits && isDigit(f.buf[i]) {
		n = n*10 + int64(f.buf[i]-'0')
		i++
	}
	if i >= f.end || f.buf[i] != ' ' {
		return nil, nil, false
	}
	f.start = i + 1
	if n > int64(f.max) {
		if n > f.maxSkip {
			return nil, fmt.Errorf("%w: %d bytes", errBadStream, n), true
		}
		if err := f.skip(n); err != nil {
			return nil, err, true
		}
		return nil, fmt.Errorf("%w: octet count %d", errFrameTooLarge, n), true
	}
	for int64(f.end-f.start) < n && f.err == nil {
		f.fill()
	}
	if int64(f.end-f.start) < n {
		// The stream ended inside the frame: hand over what came, the
		// error follows on the next call.
		frame = f.buf[f.start:f.end]
		f.start = f.end
		if len(frame) == 0 {
			return nil, nil, true
		}
		return frame, nil, true
	}
	frame = f.buf[f.start : f.start+int(n)]
	f.start += int(n)
	if n == 0 {
		return nil, nil, true
	}
	return frame, nil, true
}

// lineFramed reads up to the next LF or NUL.
func (f *framer) lineFramed() ([]byte, error) {
	scanned := f.start
	for {
		if i := indexDelim(f.buf[scanned:f.end]); i >= 0 {
			i += scanned
			frame := f.buf[f.start:i]
			f.start = i + 1
			if len(frame) > f.max {
				// Found in the same read that overflowed the limit.
				return nil, fmt.Errorf("%w: line over %d bytes", errFrameTooLarge, f.max)
			}
			return frame, nil
		}
		scanned = f.end
		if f.end-f.start > f.max {
			return nil, f.skipLine()
		}
		if f.err != nil {
			frame := f.buf[f.start:f.end]
			f.start = f.end
			return frame, nil
		}
		scanned -= f.start
		f.fill()
		scanned += f.start
	}
}

// skipLine discards bytes up to and including the next LF or NUL.
func (f *framer) skipLine() error {
	for {
		if i := indexDelim(f.buf[f.start:f.end]); i >= 0 {
			f.start += i + 1
			return fmt.Errorf("%w: line over %d bytes", errFrameTooLarge, f.max)
		}
		f.start, f.end = 0, 0
		if f.err != nil {
			return fmt.Errorf("%w: line over %d bytes", errFrameTooLarge, f.max)
		}
		f.fill()
	}
}

// indexDelim returns the index of the first LF or NUL in b, or -1.
func indexDelim(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		i = len(b)
	}
	if j := bytes.IndexByte(b[:i], 0); j >= 0 {
		return j
	}
	if i == len(b) {
		return -1
	}
	return i
}

// skip discards n bytes of the stream.
func (f *framer) skip(n int64) error {
	if b := int64(f.end - f.start); b >= n {
		f.start += int(n)
		return nil
	}
	n -= int64(f.end - f.start)
	f.start, f.end = 0, 0
	for n > 0 && f.err == nil {
		f.fill()
		b := int64(f.end)
		if b > n {
			f.start = int(n)
			return nil
		}
		n -= b
		f.start, f.end = 0, 0
	}
	return nil
}

// fill compacts the buffer and reads once more into it. A read error is
// kept in f.err for next to return once the buffer is drained.
func (f *framer) fill() {
	if f.start > 0 {
		copy(f.buf, f.buf[f.start:f.end])
		f.end -= f.start
		f.start = 0
	}
	if f.end == len(f.buf) {
		return // full: the caller decides (a line over max)
	}
	for range 100 {
		n, err := f.r.Read(f.buf[f.end:])
		f.end += n
		if err != nil {
			f.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	f.err = io.ErrNoProgress
}
