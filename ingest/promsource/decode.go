package promsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/vigilops/vigil/telemetry"
)

// ErrBadResponse is returned when a response is not the JSON Prometheus'
// query_range answers: unparseable, not a matrix, or malformed points.
var ErrBadResponse = errors.New("bad response")

// APIError is an error answered by the Prometheus HTTP API, with its
// errorType (bad_data, execution, timeout, canceled, internal,
// unavailable, not_found) and message.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	Type       string
	Message    string
}

func (e *APIError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s: %s", e.StatusCode, e.Type, e.Message)
}

// apiResponse is the envelope of every Prometheus API answer, with the
// data of a range query.
type apiResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string         `json:"resultType"`
		Result     []matrixSeries `json:"result"`
	} `json:"data"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Infos     []string `json:"infos"`
}

type matrixSeries struct {
	Metric map[string]string `json:"metric"`
	Values points            `json:"values"`
	// Native histogram points are not samples Vigil can hold; they are
	// counted and skipped.
	Histograms []json.RawMessage `json:"histograms"`
}

// decoded is one query_range answer.
type decoded struct {
	series     []telemetry.Series
	warnings   []string
	infos      []string
	histograms int
}

// decodeResponse decodes a query_range answer. An answer with status
// "error" yields an *APIError (with status as its StatusCode); anything
// else that is not a matrix of well-formed, time-ordered points yields an
// error wrapping ErrBadResponse.
func decodeResponse(body []byte, status int) (*decoded, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	switch r.Status {
	case "success":
	case "error":
		return nil, &APIError{StatusCode: status, Type: r.ErrorType, Message: r.Error}
	default:
		return nil, fmt.Errorf("%w: status %q", ErrBadResponse, r.Status)
	}
	if r.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("%w: result type %q, want matrix", ErrBadResponse, r.Data.ResultType)
	}
	d := &decoded{warnings: r.Warnings, infos: r.Infos, series: make([]telemetry.Series, 0, len(r.Data.Result))}
	for i := range r.Data.Result {
		s := &r.Data.Result[i]
		d.histograms += len(s.Histograms)
		for j := 1; j < len(s.Values); j++ {
			if s.Values[j].T <= s.Values[j-1].T {
				return nil, fmt.Errorf("%w: series %d: points not in time order", ErrBadResponse, i)
			}
		}
		if len(s.Values) == 0 {
			continue
		}
		if _, ok := s.Metric[""]; ok {
			return nil, fmt.Errorf("%w: series %d: empty label name", ErrBadResponse, i)
		}
		d.series = append(d.series, telemetry.Series{Labels: telemetry.LabelsFromMap(s.Metric), Points: s.Values})
	}
	return d, nil
}

// points decodes a matrix series' values, [[<unix seconds>, "<value>"],
// ...], by hand: encoding/json would go through reflection and an
// interface per number, and a 14-day backfill is millions of them.
// encoding/json has checked the syntax before calling UnmarshalJSON.
type points []telemetry.Point

// UnmarshalJSON implements json.Unmarshaler.
func (p *points) UnmarshalJSON(b []byte) error {
	s := scanner{b: b}
	s.ws()
	if s.literal("null") {
		*p = nil
		return nil
	}
	if !s.byte('[') {
		return errors.New("values: want an array")
	}
	out := (*p)[:0]
	if s.ws(); s.byte(']') {
		*p = out
		return nil
	}
	for {
		s.ws()
		if !s.byte('[') {
			return errors.New("values: want [timestamp, value] pairs")
		}
		s.ws()
		t, err := s.timestamp()
		if err != nil {
			return err
		}
		if s.ws(); !s.byte(',') {
			return errors.New("values: want [timestamp, value] pairs")
		}
		s.ws()
		v, err := s.value()
		if err != nil {
			return err
		}
		if s.ws(); !s.byte(']') {
			return errors.New("values: want [timestamp, value] pairs")
		}
		out = append(out, telemetry.Point{T: t, V: v})
		s.ws()
		if s.byte(',') {
			continue
		}
		if s.byte(']') {
			break
		}
		return errors.New("values: want , or ]")
	}
	if s.ws(); s.i != len(b) {
		return errors.New("values: trailing data")
	}
	*p = out
	return nil
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\n' || s.b[s.i] == '\t' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// maxSeconds keeps seconds*1000 within int64.
const maxSeconds = math.MaxInt64 / 1000

// timestamp parses a JSON number of Unix seconds into milliseconds, exactly
// for the decimal form Prometheus writes (digits past the third decimal
// are truncated, as Prometheus' own client does).
func (s *scanner) timestamp() (int64, error) {
	start := s.i
	neg := s.byte('-')
	var sec int64
	digits := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		if sec > maxSeconds/10 {
			return 0, errors.New("values: timestamp out of range")
		}
		sec = sec*10 + int64(s.b[s.i]-'0')
		s.i++
		digits++
	}
	if digits == 0 {
		return 0, errors.New("values: timestamp is not a number")
	}
	var frac int64
	if s.byte('.') {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			if n < 3 {
				frac = frac*10 + int64(s.b[s.i]-'0')
			}
			n++
			s.i++
		}
		for ; n < 3; n++ {
			frac *= 10
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		// Exponent form: no sender we know writes it, but it is JSON.
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
		if err != nil || math.IsNaN(f) || math.Abs(f) >= maxSeconds {
			return 0, errors.New("values: timestamp out of range")
		}
		return int64(math.Round(f * 1000)), nil
	}
	if sec > maxSeconds-1 {
		return 0, errors.New("values: timestamp out of range")
	}
	ms := sec*1000 + frac
	if neg {
		ms = -ms
	}
	return ms, nil
}

// value parses the quoted sample value ("1", "NaN", "+Inf", "1e-05").
func (s *scanner) value() (float64, error) {
	if !s.byte('"') {
		return 0, errors.New("values: sample value must be a quoted string")
	}
	start := s.i
	for s.i < len(s.b) && s.b[s.i] != '"' {
		if s.b[s.i] == '\\' {
			return 0, errors.New("values: escaped characters in a sample value")
		}
		s.i++
	}
	if s.i == len(s.b) {
		return 0, errors.New("values: unterminated sample value")
	}
	raw := s.b[start:s.i]
	s.i++
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, fmt.Errorf("values: sample value %q: %w", raw, strconv.ErrSyntax)
	}
	return f, nil
}
