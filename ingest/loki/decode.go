package loki

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// ErrMalformed is returned for a push request whose overall shape cannot be
// read (broken JSON or protobuf framing, streams that are not objects). The
// whole request is refused with 400; problems confined to one entry or to
// one stream's labels only reject the entries concerned.
var ErrMalformed = errors.New("malformed push request")

// reason classifies a rejection for the rejected_total metric.
type reason uint8

const (
	reasonBadEntry reason = iota
	reasonBadTimestamp
	reasonBadLabels
	reasonLineTooLong
	reasonTooManyEntries
	numReasons
)

var reasonNames = [numReasons]string{"bad_entry", "bad_timestamp", "bad_labels", "line_too_long", "too_many_entries"}

// decodeConfig is what decoding needs from Options.
type decodeConfig struct {
	maxLine        int
	maxEntries     int
	serviceLabels  []string
	defaultService string
}

// batch accumulates the records and rejections of one push request.
//
// Entries are numbered in the flattened order stream then entry, counting
// every entry the request carries, good or bad: that number is the
// Rejection index. Records are appended as entries are read and get their
// stream's labels when the stream ends, because a JSON stream object may
// carry its values before its labels.
type batch struct {
	cfg     decodeConfig
	recs    []telemetry.LogRecord
	res     ingest.Result
	reasons [numReasons]int
	// n is the index of the next entry; streams counts the streams begun.
	n       int
	streams int

	// Per stream: where its entries and records start, and its entry
	// rejections, held back until the labels are known (a bad label set
	// rejects every entry of the stream with one reason instead).
	streamFirst int
	streamRecs  int
	pending     []pendingReject
}

type pendingReject struct {
	index  int
	reason reason
	msg    string
}

func newBatch(cfg decodeConfig, sizeHint int) *batch {
	return &batch{cfg: cfg, recs: make([]telemetry.LogRecord, 0, sizeHint)}
}

func (b *batch) beginStream() {
	b.streams++
	b.streamFirst, b.streamRecs = b.n, len(b.recs)
	b.pending = b.pending[:0]
}

// streamIndex is the index of the stream being read, or of the next one
// outside a stream.
func (b *batch) streamIndex() int {
	if b.streams == 0 {
		return 0
	}
	return b.streams - 1
}

// nextEntry returns the index of a new entry and whether it may still be
// kept, rejecting it at once when the request has too many.
func (b *batch) nextEntry() (int, bool) {
	i := b.n
	b.n++
	if b.cfg.maxEntries > 0 && i >= b.cfg.maxEntries {
		b.rejectEntry(i, reasonTooManyEntries, "request has more than "+strconv.Itoa(b.cfg.maxEntries)+" entries")
		return i, false
	}
	return i, true
}

func (b *batch) rejectEntry(i int, r reason, msg string) {
	b.pending = append(b.pending, pendingReject{i, r, msg})
}

// lineTooLong rejects entry i when its line exceeds the limit.
func (b *batch) lineTooLong(i, n int) bool {
	if n <= b.cfg.maxLine {
		return false
	}
	b.rejectEntry(i, reasonLineTooLong, "line is "+strconv.Itoa(n)+" bytes, limit "+strconv.Itoa(b.cfg.maxLine))
	return true
}

// endStream gives the stream's records their labels and service, or, when
// the labels are bad, rejects every entry of the stream instead.
func (b *batch) endStream(ls telemetry.Labels, labelErr error) {
	if labelErr != nil {
		b.recs = b.recs[:b.streamRecs]
		msg := labelErr.Error()
		for i := b.streamFirst; i < b.n; i++ {
			b.reject(i, reasonBadLabels, msg)
		}
		b.pending = b.pending[:0]
		return
	}
	for _, p := range b.pending {
		b.reject(p.index, p.reason, p.msg)
	}
	b.pending = b.pending[:0]
	svc := serviceOf(ls, b.cfg.serviceLabels, b.cfg.defaultService)
	recs := b.recs[b.streamRecs:]
	for i := range recs {
		recs[i].Labels = ls
		recs[i].Service = svc
	}
}

func (b *batch) reject(i int, r reason, msg string) {
	b.reasons[r]++
	b.res.Reject(i, msg)
}

// unixNano is the time of a Loki timestamp in nanoseconds.
func unixNano(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// parseNanos parses a decimal int64 of nanoseconds since the epoch, the way
// Loki's JSON push writes timestamps (as strings).
func parseNanos(s []byte) (int64, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
