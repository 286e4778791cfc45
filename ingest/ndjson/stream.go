package ndjson

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// Stream defaults.
const (
	DefaultBatchSize       = 1000
	DefaultRetryBackoff    = 10 * time.Millisecond
	DefaultMaxRetryBackoff = time.Second
	// streamBufferSize is the read buffer; lines longer than it (up to
	// MaxLineBytes) are assembled in a separate buffer.
	streamBufferSize = 64 << 10
	// loggedRejections bounds the rejections a stream logs one by one.
	loggedRejections = 10
)

// StreamOptions configure ReadStream. Zero fields take their
// DefaultStreamOptions value, except Registerer (nil: metrics are not
// registered) and Logger (nil: discard).
type StreamOptions struct {
	// MaxLineBytes bounds one line; longer lines are rejected by number
	// without being held in memory.
	MaxLineBytes int
	// MaxFields, DefaultService, Labels and Now are as in Options.
	MaxFields      int
	DefaultService string
	Labels         telemetry.Labels
	Now            func() time.Time
	// BatchSize bounds the records handed to the Sink in one call. A
	// batch is also delivered whenever the next read could block, so a
	// slow writer (tail -f) sees its lines go through at once.
	BatchSize int
	// RetryBackoff is the first wait after the Sink answers
	// ingest.ErrBackpressure; the wait doubles up to MaxRetryBackoff.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	Logger          *slog.Logger
	Registerer      prometheus.Registerer
}

// DefaultStreamOptions returns the defaults.
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{
		MaxLineBytes:    ingest.DefaultLimits().MaxLineBytes,
		MaxFields:       DefaultMaxFields,
		Now:             time.Now,
		BatchSize:       DefaultBatchSize,
		RetryBackoff:    DefaultRetryBackoff,
		MaxRetryBackoff: DefaultMaxRetryBackoff,
		Logger:          slog.Default(),
		Registerer:      prometheus.DefaultRegisterer,
	}
}

func (o *StreamOptions) fillDefaults() {
	d := DefaultStreamOptions()
	if o.MaxLineBytes == 0 {
		o.MaxLineBytes = d.MaxLineBytes
	}
	if o.MaxFields == 0 {
		o.MaxFields = d.MaxFields
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = d.RetryBackoff
	}
	if o.MaxRetryBackoff == 0 {
		o.MaxRetryBackoff = max(d.MaxRetryBackoff, o.RetryBackoff)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *StreamOptions) validate() error {
	switch {
	case o.MaxLineBytes < 0:
		return fmt.Errorf("%w: max line bytes %d is negative", ErrInvalidOptions, o.MaxLineBytes)
	case o.BatchSize < 0:
		return fmt.Errorf("%w: batch size %d is negative", ErrInvalidOptions, o.BatchSize)
	case o.RetryBackoff < 0 || o.MaxRetryBackoff < o.RetryBackoff:
		return fmt.Errorf("%w: retry backoff %v up to %v", ErrInvalidOptions, o.RetryBackoff, o.MaxRetryBackoff)
	}
	return validateCommon(o.MaxFields, o.Labels)
}

// ReadStream reads NDJSON lines from r until EOF and delivers them to sink
// in batches. Backpressure is waiting: when sink answers
// ingest.ErrBackpressure the batch is offered again after a backoff, and r
// is not read meanwhile, until ctx is done.
//
// The Result counts the lines delivered and lists the rejected ones by
// number (from 1). The error is nil at EOF; otherwise it is ctx's error, a
// read error or a Sink error other than backpressure, and the lines
// delivered so far are in the Result (a batch being delivered when it
// fails is not). ReadStream notices ctx between lines and while waiting
// for the Sink, not during a Read of r that blocks: to stop it there,
// close r.
func ReadStream(ctx context.Context, r io.Reader, sink ingest.Sink, opts StreamOptions) (ingest.Result, error) {
	opts.fillDefaults()
	if sink == nil {
		return ingest.Result{}, fmt.Errorf("%w: a sink is required", ErrInvalidOptions)
	}
	if err := opts.validate(); err != nil {
		return ingest.Result{}, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return ingest.Result{}, fmt.Errorf("register ndjson metrics: %w", err)
	}
	s := newStream(r, sink, &opts, m, streamBufferSize)
	err = s.run(ctx)
	return s.res, err
}

// newStream sets up a stream; bufSize is a parameter so that tests can
// make lines outgrow the read buffer cheaply.
func newStream(r io.Reader, sink ingest.Sink, opts *StreamOptions, m *metrics, bufSize int) *stream {
	return &stream{
		opts: opts, sink: sink, m: m,
		lr: lineReader{br: bufio.NewReaderSize(r, bufSize), max: opts.MaxLineBytes},
		d:  lineDecoder{cfg: lineConfig{maxLine: opts.MaxLineBytes, maxFields: opts.MaxFields, defaultService: opts.DefaultService, labels: opts.Labels}},
	}
}

// stream is the state of one ReadStream call.
type stream struct {
	opts  *StreamOptions
	sink  ingest.Sink
	m     *metrics
	lr    lineReader
	d     lineDecoder
	res   ingest.Result
	batch []telemetry.LogRecord
}

func (s *stream) run(ctx context.Context) error {
	done := ctx.Done()
	for lineNo := 1; ; lineNo++ {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		if len(s.batch) >= s.opts.BatchSize || (len(s.batch) > 0 && !s.lr.lineBuffered()) {
			if err := s.flush(ctx); err != nil {
				return err
			}
		}
		line, n, readErr := s.lr.next()
		switch {
		case n < 0: // nothing was read
			lineNo--
		case n > s.opts.MaxLineBytes:
			s.m.tooLong.Inc()
			s.reject(lineNo, tooLongReason(n, s.opts.MaxLineBytes))
		case blank(line):
		default:
			rec, isJSON := s.d.decode(line, s.opts.Now())
			if !isJSON {
				s.m.plain.Inc()
			}
			if s.batch == nil {
				s.batch = make([]telemetry.LogRecord, 0, s.opts.BatchSize)
			}
			s.batch = append(s.batch, rec)
		}
		if readErr != nil {
			// Deliver the good lines read before the end or the failure.
			if err := s.flush(ctx); err != nil {
				return err
			}
			if readErr == io.EOF {
				return nil
			}
			return fmt.Errorf("read: %w", readErr)
		}
	}
}

func (s *stream) reject(lineNo int, reason string) {
	s.res.Reject(lineNo, reason)
	switch n := s.res.RejectedCount(); {
	case n <= loggedRejections:
		s.opts.Logger.Warn("ndjson line rejected", "line", lineNo, "reason", reason)
	case n == loggedRejections+1:
		s.opts.Logger.Warn("ndjson stream: further rejected lines are counted, not logged")
	}
}

// flush delivers the batch, waiting while the pipeline is full. The Sink
// owns a delivered batch, so the next one is a new slice.
func (s *stream) flush(ctx context.Context) error {
	if len(s.batch) == 0 {
		return nil
	}
	err := ingest.DeliverWithRetry(ctx, func(ctx context.Context) error {
		return s.sink.Logs(ctx, s.batch)
	}, s.opts.RetryBackoff, s.opts.MaxRetryBackoff, s.m.waits.Inc)
	switch {
	case errors.Is(err, ingest.ErrBackpressure):
		// Still full when ctx was done.
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("deliver logs: %w", err)
	}
	s.res.Accepted += len(s.batch)
	s.m.received.Add(float64(len(s.batch)))
	s.batch = nil
	return nil
}

// lineReader splits a reader into lines without holding more than
// max+2 bytes of any one line.
type lineReader struct {
	br  *bufio.Reader
	max int
	buf []byte // assembles lines longer than the bufio buffer
}

// next returns the next line without its line ending (\n or \r\n) and its
// length n; a line longer than max is not returned (line is nil, n tells
// its length). n is -1 when nothing was read (at EOF or on an error).
func (r *lineReader) next() (line []byte, n int, err error) {
	r.buf = r.buf[:0]
	size := 0
	var last2 [2]byte // the last two bytes of the line so far
	for {
		frag, err := r.br.ReadSlice('\n')
		if size == 0 {
			if len(frag) == 0 {
				return nil, -1, err
			}
			if err != bufio.ErrBufferFull {
				// The whole line is in the read buffer: no copy.
				line := trimEOL(frag)
				if len(line) > r.max {
					return nil, len(line), err
				}
				return line, len(line), err
			}
		}
		size += len(frag)
		if room := r.max + 2 - len(r.buf); room > 0 {
			r.buf = append(r.buf, frag[:min(len(frag), room)]...)
		}
		for _, c := range frag[max(0, len(frag)-2):] {
			last2[0], last2[1] = last2[1], c
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		// The line's length without the ending trimEOL removes.
		n := size
		if last2[1] == '\n' {
			n--
			if size >= 2 && last2[0] == '\r' {
				n--
			}
		} else if last2[1] == '\r' {
			n--
		}
		if n > r.max {
			return nil, n, err
		}
		return trimEOL(r.buf), n, err
	}
}

// lineBuffered reports whether a whole line is already read, so that the
// next call to next does not block.
func (r *lineReader) lineBuffered() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	return trimCR(b)
}
