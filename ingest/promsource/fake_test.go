package promsource

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
)

// fakeProm implements query_range over synthetic series, with
// Prometheus' limits and injectable failures.
type fakeProm struct {
	mu sync.Mutex
	// series are the label sets answered for every query; the value at t
	// (ms) is value(i, t).
	series []map[string]string
	value  func(i int, t int64) float64
	// maxSamples, if set, refuses requests of more points × series, as
	// Prometheus' query.max-samples does.
	maxSamples int
	warnings   []string
	// fail, if set and returning a status, answers that status and body.
	fail func(r *http.Request) (int, string)
	// requests records what was asked.
	requests []fakeRequest
}

type fakeRequest struct {
	method                    string
	query                     string
	start, end, step, timeout string
	header                    http.Header
}

func newFakeProm() *fakeProm {
	return &fakeProm{
		series: []map[string]string{
			{"__name__": "up", "job": "api", "instance": "a:9090"},
			{"__name__": "up", "job": "db", "instance": "b:9100"},
		},
		value: func(i int, t int64) float64 { return float64(t/1000) + float64(i)/10 },
	}
}

func parseSeconds(s string) (int64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return int64(f*1000 + 0.5), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiErr(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]string{"status": "error", "errorType": typ, "error": msg})
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query_range" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		apiErr(w, 400, "bad_data", err.Error())
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{
		method: r.Method, query: r.Form.Get("query"), start: r.Form.Get("start"), end: r.Form.Get("end"),
		step: r.Form.Get("step"), timeout: r.Form.Get("timeout"), header: r.Header.Clone(),
	})
	fail, series, value, maxSamples, warnings := f.fail, f.series, f.value, f.maxSamples, f.warnings
	f.mu.Unlock()
	if fail != nil {
		if status, body := fail(r); status != 0 {
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return
		}
	}
	start, err1 := parseSeconds(r.Form.Get("start"))
	end, err2 := parseSeconds(r.Form.Get("end"))
	step, err3 := parseSeconds(r.Form.Get("step"))
	if err1 != nil || err2 != nil || err3 != nil || step <= 0 || end < start {
		apiErr(w, 400, "bad_data", "invalid parameter")
		return
	}
	// Prometheus: "exceeded maximum resolution of 11,000 points per
	// timeseries. Try decreasing the query resolution (?step=XX)".
	if (end-start)/step > 11000 {
		apiErr(w, 400, "bad_data", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
		return
	}
	n := int((end-start)/step + 1)
	if maxSamples > 0 && n*len(series) > maxSamples {
		apiErr(w, 422, "execution", "query processing would load too many samples into memory in query execution")
		return
	}
	type result struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	}
	res := make([]result, 0, len(series))
	for i, m := range series {
		vals := make([][2]any, 0, n)
		for t := start; t <= end; t += step {
			vals = append(vals, [2]any{json.Number(strconv.FormatFloat(float64(t)/1000, 'f', -1, 64)), strconv.FormatFloat(value(i, t), 'f', -1, 64)})
		}
		res = append(res, result{Metric: m, Values: vals})
	}
	body := map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": res}}
	if len(warnings) > 0 {
		body["warnings"] = warnings
	}
	writeJSON(w, 200, body)
}

func (f *fakeProm) reqs() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func (f *fakeProm) setFail(fn func(r *http.Request) (int, string)) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

// handlerTransport serves requests in-process, without sockets, so that
// the loop can run inside a synctest bubble.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}
