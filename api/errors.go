package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Error codes: the stable, machine-readable part of an API error. Clients
// branch on these, never on the message.
const (
	CodeBadRequest           = "bad_request"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeTooManyRequests      = "too_many_requests"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
)

// Error is an API error as the client sees it. A HandlerFunc that returns an
// *Error (or an error wrapping one) has it rendered as
//
//	{"error":{"status":400,"code":"bad_request","message":"...","details":["..."]}}
//
// with Status as the HTTP status. Headers the handler set on the
// ResponseWriter before returning (Retry-After, say) are kept.
type Error struct {
	Status  int      `json:"status"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
}

// Error implements error.
func (e *Error) Error() string {
	return strconv.Itoa(e.Status) + " " + e.Code + ": " + e.Message
}

// Errorf returns an *Error with the message formatted as by fmt.Sprintf. An
// empty code is derived from the status (404 → not_found), so callers only
// name a code when the status alone does not say enough.
func Errorf(status int, code, format string, args ...any) *Error {
	if code == "" {
		code = codeFor(status)
	}
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns e with details appended; it modifies and returns e so
// it chains after Errorf.
func (e *Error) WithDetails(details ...string) *Error {
	e.Details = append(e.Details, details...)
	return e
}

// codeFor maps a status to its default code; unlisted 4xx statuses fall back
// to bad_request and 5xx to internal, so a code is never empty.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMediaType
	case http.StatusTooManyRequests:
		return CodeTooManyRequests
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	if status >= 500 {
		return CodeInternal
	}
	return CodeBadRequest
}

// errInternal is what clients see for any error that is not an *Error: the
// real cause goes to the log, never to the client, as it may name internals.
var errInternal = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal server error"}

// errorEnvelope is the wire shape of every API error.
type errorEnvelope struct {
	Error *Error `json:"error"`
}

// writeError renders e in the API's one error format.
func writeError(w http.ResponseWriter, e *Error) {
	if e.Status == http.StatusUnauthorized {
		// RFC 9110 requires a challenge on every 401; setting it here keeps
		// handlers from forgetting it.
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
	}
	WriteJSON(w, e.Status, errorEnvelope{Error: e})
}

// internalErrorBody is written when a response itself fails to encode, so
// even that failure answers in the error format.
const internalErrorBody = `{"error":{"status":500,"code":"internal","message":"internal server error"}}` + "\n"

// WriteJSON writes v as the JSON response body with the given status. The
// body is encoded before anything is written, so a value that fails to encode
// becomes a 500 in the error format rather than a truncated 200.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	// Content-Length may have been set for other content (http.Error does
	// the same); the server computes the right one.
	h.Del("Content-Length")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(internalErrorBody))
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
