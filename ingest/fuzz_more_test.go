package ingest

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang/snappy"
)

// Body shapes for FuzzReadBody, picked by mode&3.
const (
	bodyRaw     = iota // the payload as sent, under the fuzzed Content-Encoding
	bodyGzip           // the payload gzip-compressed, Content-Encoding: gzip
	bodyDeflate        // the payload zlib-compressed, Content-Encoding: deflate
	bodySnappy         // the payload snappy-compressed, header or forced
)

// Further mode bits.
const (
	modeTrailing = 4 // append bytes after a compressed stream
	modeChunked  = 8 // no Content-Length, as with chunked transfer
)

// trailingJunk follows a compressed stream when modeTrailing is set. It is
// neither a gzip header nor a valid snappy continuation.
var trailingJunk = []byte("\x00junk after the stream")

// FuzzReadBody checks ReadBody's contract over arbitrary payloads, encodings
// and limits: no panic; errors are *BodyError with 400, 413 or 415, and
// ErrTooLarge exactly when 413; nothing longer than the decoded limit is
// returned, whatever the encoding; a body over the sent limit is refused as
// too large; a plain body within both limits comes back unchanged; a payload
// properly compressed within the limits comes back byte for byte, and one
// over the decoded limit is refused as too large; bytes after a compressed
// stream are refused rather than silently dropped.
func FuzzReadBody(f *testing.F) {
	payload := []byte(strings.Repeat("hello ", 100))
	type seed struct {
		payload             []byte
		enc                 string
		mode                uint8
		maxBody, maxDecoded int64
		force               bool
	}
	for _, s := range []seed{
		{payload, "", bodyRaw, 0, 0, false},
		{payload, "", bodyGzip, 0, 0, false},
		{payload, "", bodyDeflate, 0, 0, false},
		{payload, "", bodySnappy, 0, 0, false},
		{payload, "", bodySnappy, 0, 0, true},
		{payload, "", bodyRaw, 10, 0, false},
		{payload, "", bodyGzip, 0, 100, false},
		{payload, "", bodySnappy, 0, 100, false},
		{make([]byte, 4096), "", bodyGzip, 0, 4095, false},
		{make([]byte, 4096), "", bodyGzip, 0, 4096, false},
		{payload, "", bodyGzip | modeTrailing, 0, 0, false},
		{payload, "", bodyDeflate | modeTrailing, 0, 0, false},
		{payload, "", bodySnappy | modeTrailing, 0, 0, false},
		{payload, "", bodyRaw | modeChunked, 10, 0, false},
		{[]byte("not gzip"), "gzip", bodyRaw, 0, 0, false},
		{[]byte("not zlib"), "deflate", bodyRaw, 0, 0, false},
		{[]byte{0xff, 0xff, 0xff}, "snappy", bodyRaw, 0, 0, false},
		{[]byte{0xff, 0xff, 0xff, 0x0f}, "snappy", bodyRaw, 0, 0, false},
		{payload, "br", bodyRaw, 0, 0, false},
		{payload, " X-GZIP ", bodyRaw, 0, 0, false},
		{payload, "identity", bodyRaw, 0, 0, true},
		{nil, "gzip", bodyRaw, 0, 0, false},
		{nil, "", bodyRaw, -1, -1, false},
		// "No limit" spelled as the largest int64: limit+1 must not wrap.
		{payload, "", bodyRaw, math.MaxInt64, 0, false},
		{payload, "", bodyGzip, 0, math.MaxInt64, false},
		{payload, "", bodyDeflate, math.MaxInt64, math.MaxInt64, false},
		// Found by fuzzing: a plain body over the decoded limit (set below
		// the sent one) was returned whole.
		{bytes.Repeat([]byte("0"), 101), "", bodyRaw, 0, 100, false},
	} {
		f.Add(s.payload, s.enc, s.mode, s.maxBody, s.maxDecoded, s.force)
	}
	f.Fuzz(func(t *testing.T, payload []byte, enc string, mode uint8, maxBody, maxDecoded int64, force bool) {
		lim := Limits{MaxBodyBytes: fuzzLimit(maxBody), MaxDecodedBytes: fuzzLimit(maxDecoded)}
		eff := lim.WithDefaults()

		shape := mode & 3
		var body []byte
		switch shape {
		case bodyRaw:
			body = payload
		case bodyGzip:
			body, enc = gzipBytes(t, payload), "gzip"
		case bodyDeflate:
			body, enc = zlibBytes(t, payload), "deflate"
		case bodySnappy:
			body = snappy.Encode(nil, payload)
			if force {
				enc = ""
			} else {
				enc = "snappy"
			}
		}
		trailing := shape != bodyRaw && mode&modeTrailing != 0
		if trailing {
			body = append(body, trailingJunk...)
		}
		norm := strings.ToLower(strings.TrimSpace(enc))
		if force && (norm == "" || norm == "identity") {
			norm = "snappy"
		}
		// A snappy body announces its decoded length, and the decoder
		// allocates that much; keep the harness's memory small when the
		// limit would allow a huge claim.
		if norm == "snappy" && eff.MaxDecodedBytes > 1<<24 {
			if n, err := snappy.DecodedLen(body); err == nil && n > 1<<24 {
				t.Skip("snappy claim too large for the harness")
			}
		}

		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if enc != "" {
			r.Header.Set("Content-Encoding", enc)
		}
		if mode&modeChunked != 0 {
			r.ContentLength = -1
		}
		out, err := ReadBody(r, lim, force)

		if err != nil {
			checkBodyError(t, err, norm)
		} else if int64(len(out)) > eff.MaxDecodedBytes {
			t.Fatalf("returned %d bytes, decoded limit %d", len(out), eff.MaxDecodedBytes)
		}
		if int64(len(body)) > eff.MaxBodyBytes {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%d-byte body over the %d-byte limit: err %v", len(body), eff.MaxBodyBytes, err)
			}
			return
		}
		if norm == "" || norm == "identity" {
			if int64(len(body)) > eff.MaxDecodedBytes {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("identity body of %d bytes over the decoded limit %d: err %v", len(body), eff.MaxDecodedBytes, err)
				}
				return
			}
			if err != nil || !bytes.Equal(out, body) {
				t.Fatalf("identity body of %d bytes (limit %d): got %d bytes, %v", len(body), eff.MaxBodyBytes, len(out), err)
			}
			return
		}
		if shape == bodyRaw {
			return // arbitrary bytes under a real encoding: only the general properties
		}
		if trailing {
			if err == nil {
				t.Fatalf("%s stream followed by %d junk bytes accepted as %d bytes", norm, len(trailingJunk), len(out))
			}
			return
		}
		if int64(len(payload)) > eff.MaxDecodedBytes {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%s payload of %d bytes over the decoded limit %d: err %v", norm, len(payload), eff.MaxDecodedBytes, err)
			}
			return
		}
		if err != nil || !bytes.Equal(out, payload) {
			t.Fatalf("%s payload of %d bytes: got %d bytes, %v", norm, len(payload), len(out), err)
		}
	})
}

// fuzzLimit keeps fuzzed limits small enough to exercise (zero and negative
// mean the default), except the largest int64, kept as the "no limit" edge.
func fuzzLimit(v int64) int64 {
	if v > 1<<20 && v != math.MaxInt64 {
		return v % (1 << 20)
	}
	return v
}

func checkBodyError(t *testing.T, err error, enc string) {
	t.Helper()
	var be *BodyError
	if !errors.As(err, &be) {
		t.Fatalf("error %v (%T) is not a *BodyError", err, err)
	}
	if err.Error() == "" {
		t.Fatalf("empty error message (status %d)", be.Status)
	}
	switch be.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
	case http.StatusUnsupportedMediaType:
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", enc)) {
			t.Fatalf("415 error %q does not name the encoding %q", err, enc)
		}
	default:
		t.Fatalf("status %d for %v", be.Status, err)
	}
	if errors.Is(err, ErrTooLarge) != (be.Status == http.StatusRequestEntityTooLarge) {
		t.Fatalf("status %d but errors.Is(ErrTooLarge) = %v: %v", be.Status, errors.Is(err, ErrTooLarge), err)
	}
}

func gzipBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zlibBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
