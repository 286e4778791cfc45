package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"
)

// DecodeJSON decodes the request body, a single JSON value, into v. Unknown
// fields are refused, so that a misspelt field is an error rather than a
// silently ignored setting. Every failure is an *Error that says what is
// wrong and where:
//
//   - 415 when Content-Type is set and is not JSON (application/json or
//     application/*+json);
//   - 413 when the body exceeds the server's limit;
//   - 400 for an empty body, malformed JSON (with line, column and byte
//     offset), a value of the wrong type (naming the field and the expected
//     type), an unknown field (naming it), or data after the value.
//
// The body is read whole before decoding, which the server's body limit
// bounds; that is what lets a syntax error be reported by line and column.
func DecodeJSON(r *http.Request, v any) error {
	data, err := readJSONBody(r)
	if err != nil {
		return err
	}
	if err := decodeJSONValue(data, v); err != nil {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "%s", err)
	}
	return nil
}

// readJSONBody checks the media type and reads the non-empty body.
func readJSONBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONMediaType(ct) {
		return nil, Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"Content-Type %q is not JSON; send application/json", truncate(ct, 100))
	}
	var data []byte
	if r.Body != nil {
		var err error
		data, err = io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return nil, bodyTooLarge(tooLarge.Limit)
		case err != nil:
			return nil, Errorf(http.StatusBadRequest, CodeBadRequest, "read request body: %v", err)
		}
	}
	if len(trimJSONSpace(data)) == 0 {
		return nil, Errorf(http.StatusBadRequest, CodeBadRequest, "request body is empty; want a JSON value")
	}
	return data, nil
}

func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	// curl -d sends application/x-www-form-urlencoded unless told
	// otherwise; the body is still parsed as JSON (and refused with 400 if
	// it is not), so that the commands people type first just work.
	return mt == "application/json" || mt == "application/x-www-form-urlencoded" ||
		(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeJSONValue decodes data, exactly one JSON value, into v. Its error
// is a message for the client, without the "json: " prefix of the decoder.
func decodeJSONValue(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			typ.Field = stripEmbedded(reflect.TypeOf(v), typ.Field)
		}
		return describeDecodeError(data, err)
	}
	if rest := trimJSONSpace(data[dec.InputOffset():]); len(rest) > 0 {
		line, col := position(data, int64(len(data)-len(rest)))
		return fmt.Errorf("unexpected data after the JSON value at line %d, column %d", line, col)
	}
	return nil
}

// describeDecodeError turns an encoding/json error into a message that names
// the problem and its place.
func describeDecodeError(data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var invalid *json.InvalidUnmarshalError
	switch {
	case errors.As(err, &syntax):
		// Offset counts the bytes read, the offending one included.
		off := max(syntax.Offset-1, 0)
		line, col := position(data, off)
		return fmt.Errorf("malformed JSON at line %d, column %d (byte offset %d): %s", line, col, off, syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("malformed JSON: the body ends before the JSON value is complete")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Errorf("want %s, got %s", jsonTypeName(typ.Type), jsonValueName(typ.Value))
		}
		return fmt.Errorf("field %q: want %s, got %s", typ.Field, jsonTypeName(typ.Type), jsonValueName(typ.Value))
	case errors.As(err, &invalid):
		// A programming error (v is not a pointer), not the client's.
		panic("api: " + invalid.Error())
	}
	// encoding/json reports unknown fields only as text.
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		return errors.New(msg)
	}
	return fmt.Errorf("invalid JSON value: %s", msg)
}

// stripEmbedded removes from a decoder field path the Go names of embedded
// structs ("Event.labels" → "labels"), which encoding/json puts there
// although they are no part of the JSON the client sent.
func stripEmbedded(t reflect.Type, path string) string {
	if path == "" {
		return path
	}
	segs := strings.Split(path, ".")
	out := segs[:0]
	for _, seg := range segs {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			out, t = append(out, seg), nil
			continue
		}
		if f, ok := t.FieldByName(seg); ok && f.Anonymous && len(f.Index) == 1 {
			t = f.Type
			continue
		}
		out, t = append(out, seg), jsonFieldType(t, seg)
	}
	return strings.Join(out, ".")
}

// jsonFieldType returns the type of the struct field that JSON name selects,
// or nil.
func jsonFieldType(t reflect.Type, name string) reflect.Type {
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name || (tag == "" && strings.EqualFold(f.Name, name)) {
			return f.Type
		}
	}
	return nil
}

// position returns the 1-based line and column (in bytes) of offset.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func trimJSONSpace(b []byte) []byte { return bytes.TrimLeft(b, " \t\r\n") }

var timeType = reflect.TypeFor[time.Time]()

// jsonTypeName names a Go type by the JSON a client should send for it.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "an RFC 3339 time string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	}
	return "another type"
}

// jsonValueName renders UnmarshalTypeError.Value ("bool", "number -5").
func jsonValueName(v string) string {
	if v == "bool" {
		return "boolean"
	}
	return truncate(v, 80)
}

// truncate cuts s to at most n bytes, marking the cut, so that echoing
// client input into a message stays bounded.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
