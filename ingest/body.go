package ingest

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"

	"github.com/golang/snappy"
)

// Limits bound what one request may carry.
type Limits struct {
	// MaxBodyBytes bounds the body as sent (compressed). Default 16 MiB.
	MaxBodyBytes int64
	// MaxDecodedBytes bounds the body after decompression, against
	// decompression bombs. Default 64 MiB.
	MaxDecodedBytes int64
	// MaxLineBytes bounds one log line or record. Longer ones are rejected
	// with a reason; the rest of the batch is kept. Default 256 KiB.
	MaxLineBytes int
}

// DefaultLimits returns the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{MaxBodyBytes: 16 << 20, MaxDecodedBytes: 64 << 20, MaxLineBytes: 256 << 10}
}

// ErrTooLarge is returned by ReadBody when a limit is exceeded.
var ErrTooLarge = errors.New("body too large")

// BodyError is a request body problem with the HTTP status it maps to.
type BodyError struct {
	Status int
	Err    error
}

func (e *BodyError) Error() string { return e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// ReadBody reads r's body within the limits and undoes its Content-Encoding
// (gzip, deflate, snappy block format as Prometheus and Loki send it, or
// identity). Snappy-encoded protobuf bodies often arrive without a
// Content-Encoding header, so callers whose protocol mandates snappy pass
// forceSnappy. Errors are *BodyError with status 413 or 400 (or 415 for an
// unknown encoding).
func ReadBody(r *http.Request, l Limits, forceSnappy bool) ([]byte, error) {
	l = l.withDefaults()
	if r.ContentLength > l.MaxBodyBytes {
		return nil, &BodyError{http.StatusRequestEntityTooLarge, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, r.ContentLength, l.MaxBodyBytes)}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, oneOver(l.MaxBodyBytes)))
	if err != nil {
		return nil, &BodyError{http.StatusBadRequest, fmt.Errorf("read body: %w", err)}
	}
	if int64(len(raw)) > l.MaxBodyBytes {
		return nil, &BodyError{http.StatusRequestEntityTooLarge, fmt.Errorf("%w: over the limit of %d bytes", ErrTooLarge, l.MaxBodyBytes)}
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if forceSnappy && (enc == "" || enc == "identity") {
		enc = "snappy"
	}
	switch enc {
	case "", "identity":
		// The decoded limit bounds what callers get whatever the encoding;
		// it can be set below MaxBodyBytes, and a plain body is its own
		// decoding.
		if int64(len(raw)) > l.MaxDecodedBytes {
			return nil, &BodyError{http.StatusRequestEntityTooLarge, fmt.Errorf("%w: %d bytes, decoded limit %d", ErrTooLarge, len(raw), l.MaxDecodedBytes)}
		}
		return raw, nil
	case "snappy":
		n, err := snappy.DecodedLen(raw)
		if err != nil {
			return nil, &BodyError{http.StatusBadRequest, fmt.Errorf("snappy body: %w", err)}
		}
		if int64(n) > l.MaxDecodedBytes {
			return nil, &BodyError{http.StatusRequestEntityTooLarge, fmt.Errorf("%w: decodes to %d bytes, limit %d", ErrTooLarge, n, l.MaxDecodedBytes)}
		}
		out, err := snappy.Decode(nil, raw)
		if err != nil {
			return nil, &BodyError{http.StatusBadRequest, fmt.Errorf("snappy body: %w", err)}
		}
		return out, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, &BodyError{http.StatusBadRequest, fmt.Errorf("gzip body: %w", err)}
		}
		return readDecoded(zr, l.MaxDecodedBytes, "gzip")
	case "deflate":
		br := bytes.NewReader(raw)
		zr, err := zlib.NewReader(br)
		if err != nil {
			return nil, &BodyError{http.StatusBadRequest, fmt.Errorf("deflate body: %w", err)}
		}
		out, err := readDecoded(zr, l.MaxDecodedBytes, "deflate")
		// zlib stops at its checksum and ignores what follows (gzip, by
		// contrast, refuses a trailing non-gzip member): refuse it here
		// too rather than drop part of the body silently.
		if err == nil && br.Len() > 0 {
			return nil, &BodyError{http.StatusBadRequest, fmt.Errorf("deflate: %d bytes after the end of the stream", br.Len())}
		}
		return out, err
	}
	return nil, &BodyError{http.StatusUnsupportedMediaType, fmt.Errorf("content encoding %q is not supported (gzip, deflate, snappy)", enc)}
}

func readDecoded(r io.ReadCloser, max int64, name string) ([]byte, error) {
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, oneOver(max)))
	if err != nil {
		return nil, &BodyError{http.StatusBadRequest, fmt.Errorf("%s body: %w", name, err)}
	}
	if int64(len(out)) > max {
		return nil, &BodyError{http.StatusRequestEntityTooLarge, fmt.Errorf("%w: decompresses to over %d bytes", ErrTooLarge, max)}
	}
	return out, nil
}

// oneOver is the read cap that tells a body at the limit from one over it.
// At math.MaxInt64 ("no limit") limit+1 would wrap negative and
// io.LimitReader would read nothing, silently returning an empty body.
func oneOver(limit int64) int64 {
	if limit < math.MaxInt64 {
		return limit + 1
	}
	return limit
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = d.MaxDecodedBytes
	}
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = d.MaxLineBytes
	}
	return l
}

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits { return l.withDefaults() }
