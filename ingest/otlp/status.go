package otlp

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilops/vigil/ingest"
)

// encoding is the payload encoding of a request, which its answer repeats.
type encoding uint8

const (
	encProto encoding = iota
	encJSON
)

// Media types OTLP/HTTP uses. application/protobuf is not in the spec but
// some clients send it; it is the same encoding.
const (
	typeProto    = "application/x-protobuf"
	typeProtoAlt = "application/protobuf"
	typeJSON     = "application/json"
)

// parseContentType maps a Content-Type header to the encoding and the media
// type to answer with (the spec: the same Content-Type as the request).
func parseContentType(h string) (encoding, string, bool) {
	switch h { // the common exact forms, without mime's allocations
	case typeProto:
		return encProto, typeProto, true
	case typeJSON:
		return encJSON, typeJSON, true
	}
	mt, _, err := mime.ParseMediaType(h)
	if err != nil {
		return encProto, typeProto, false
	}
	switch mt {
	case typeProto, typeProtoAlt:
		return encProto, mt, true
	case typeJSON:
		return encJSON, typeJSON, true
	}
	return encProto, typeProto, false
}

// gRPC status codes used in google.rpc.Status bodies. The spec says
// clients do not act on them; they are set for troubleshooting and so that
// a gRPC-minded reader sees the matching retry semantics.
const (
	codeInvalidArgument   = 3
	codeResourceExhausted = 8
	codeInternal          = 13
	codeUnavailable       = 14
)

func grpcCode(httpStatus int) int32 {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return codeInvalidArgument
	case http.StatusRequestEntityTooLarge:
		return codeResourceExhausted
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return codeUnavailable
	}
	return codeInternal
}

// statusJSON is google.rpc.Status in the proto3 JSON mapping.
type statusJSON struct {
	Code    int32  `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// marshalStatus encodes google.rpc.Status {code = 1, message = 2}. It is
// hand-written with protowire: two fields do not justify depending on the
// genproto package, and details (field 3) are optional.
func marshalStatus(enc encoding, code int32, msg string) []byte {
	// A proto3 string must be UTF-8, and messages may quote what a client
	// sent (an encoding name, say).
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if enc == encJSON {
		b, _ := json.Marshal(statusJSON{Code: code, Message: msg})
		return b
	}
	var b []byte
	if code != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(code)))
	}
	if msg != "" {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, msg)
	}
	return b
}

// writeStatus answers a failed request with a google.rpc.Status body, as
// OTLP/HTTP requires for every 4xx and 5xx. 429 and 503 carry Retry-After
// (ingest.DefaultRetryAfter), which exporters honour.
func writeStatus(w http.ResponseWriter, enc encoding, mediaType string, httpStatus int, msg string) {
	body := marshalStatus(enc, grpcCode(httpStatus), msg)
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if httpStatus == http.StatusTooManyRequests || httpStatus == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(int(ingest.DefaultRetryAfter/time.Second)))
	}
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// writeExport answers 200 with an Export*ServiceResponse body.
func writeExport(w http.ResponseWriter, mediaType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
