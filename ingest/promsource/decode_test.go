package promsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/vigilops/vigil/telemetry"
)

func TestDecodePoints(t *testing.T) {
	tests := []struct {
		in   string
		t    int64
		v    float64
		fail bool
	}{
		{`[[1435781430.781,"1"]]`, 1435781430781, 1, false},
		{`[[1435781430,"-2.5e-3"]]`, 1435781430000, -0.0025, false},
		{`[ [ 1.5 , "NaN" ] ]`, 1500, math.NaN(), false},
		{`[[1.25,"+Inf"]]`, 1250, math.Inf(1), false},
		{`[[1.2,"-Inf"]]`, 1200, math.Inf(-1), false},
		{`[[1.23456,"0"]]`, 1234, 0, false}, // truncated to ms, as Prometheus' client does
		{`[[-1.5,"0"]]`, -1500, 0, false},
		{`[[1.5e3,"0"]]`, 1500000, 0, false},
		{`[[1,2]]`, 0, 0, true},
		{`[[1,"x"]]`, 0, 0, true},
		{`[[1,"1\u0030"]]`, 0, 0, true},
		{`[["1","1"]]`, 0, 0, true},
		{`[[1]]`, 0, 0, true},
		{`[[1,"1","2"]]`, 0, 0, true},
		{`[[99999999999999999999,"1"]]`, 0, 0, true},
		{`{}`, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var p points
			err := json.Unmarshal([]byte(tc.in), &p)
			if tc.fail {
				if err == nil {
					t.Fatalf("accepted: %v", p)
				}
				return
			}
			if err != nil || len(p) != 1 {
				t.Fatalf("%v %v", p, err)
			}
			if p[0].T != tc.t || !(p[0].V == tc.v || math.IsNaN(p[0].V) && math.IsNaN(tc.v)) {
				t.Fatalf("got %+v, want %d %v", p[0], tc.t, tc.v)
			}
		})
	}
}

func TestDecodeResponse(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"matrix","result":[
		{"metric":{"__name__":"up","job":"api","empty":""},"values":[[1,"1"],[2,"0"]]},
		{"metric":{"__name__":"nothing"},"values":[]},
		{"metric":{"__name__":"h"},"histograms":[[1,{"count":"1","sum":"1"}]]}
	]},"warnings":["w1"],"infos":["i1"]}`
	d, err := decodeResponse([]byte(body), 200)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.series) != 1 || d.series[0].Labels.String() != `{__name__="up", job="api"}` || len(d.series[0].Points) != 2 {
		t.Fatalf("series %+v", d.series)
	}
	if d.histograms != 1 || len(d.warnings) != 1 || len(d.infos) != 1 {
		t.Fatalf("decoded %+v", d)
	}
	var apiErr *APIError
	if _, err := decodeResponse([]byte(`{"status":"error","errorType":"timeout","error":"query timed out"}`), 503); !errors.As(err, &apiErr) || apiErr.Error() != "HTTP 503: timeout: query timed out" {
		t.Fatalf("err %v", err)
	}
	if _, err := decodeResponse([]byte(`{"status":"weird"}`), 200); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("err %v", err)
	}
}

// decodeReference decodes with prometheus/common's model types, the
// client library's own implementation.
func decodeReference(body []byte) (model.Matrix, error) {
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     model.Matrix `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	if r.Status != "success" || r.Data.ResultType != "matrix" {
		return nil, errors.New("not a successful matrix")
	}
	return r.Data.Result, nil
}

// FuzzQueryRangeResponse feeds arbitrary answers to the decoder: it must
// never panic, what it accepts must hold its invariants, and where the
// model types also accept an answer, both must read the same points.
func FuzzQueryRangeResponse(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"api"},"values":[[1435781430.781,"1"],[1435781445.781,"NaN"]]}]},"warnings":["x"]}`))
	f.Add([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[-1.5,"+Inf"],[2e3,"1e-9"]]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"histograms":[[1,{"count":"2"}]]}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeResponse(body, 200)
		if err != nil {
			var apiErr *APIError
			if !errors.Is(err, ErrBadResponse) && !errors.As(err, &apiErr) {
				t.Fatalf("error of unexpected kind: %v", err)
			}
			return
		}
		for _, s := range d.series {
			if !s.Labels.Valid() || len(s.Points) == 0 {
				t.Fatalf("invalid series %s with %d points", s.Labels, len(s.Points))
			}
			for i := 1; i < len(s.Points); i++ {
				if s.Points[i].T <= s.Points[i-1].T {
					t.Fatalf("points out of order in %s", s.Labels)
				}
			}
		}
		ref, rerr := decodeReference(body)
		if rerr != nil {
			return
		}
		var got, want []string
		for _, s := range d.series {
			for _, p := range s.Points {
				got = append(got, fmt.Sprintf("%s %d %x", s.Labels, p.T, math.Float64bits(p.V)))
			}
		}
		for _, ss := range ref {
			ls := ssLabels(ss)
			for _, p := range ss.Values {
				want = append(want, fmt.Sprintf("%s %d %x", ls, int64(p.Timestamp), math.Float64bits(float64(p.Value))))
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("decoded differently from prometheus/common:\nours:\n%s\nreference:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func ssLabels(ss *model.SampleStream) string {
	m := map[string]string{}
	for k, v := range ss.Metric {
		m[string(k)] = string(v)
	}
	return telemetry.LabelsFromMap(m).String()
}

func BenchmarkDecodeResponse(b *testing.B) {
	f := newFakeProm()
	var sb strings.Builder
	sb.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
	for i := range 10 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"metric":{"__name__":"up","job":"j%d"},"values":[`, i)
		for j := range 11000 {
			if j > 0 {
				sb.WriteByte(',')
			}
			t := int64(1740787200000 + j*60000)
			fmt.Fprintf(&sb, `[%d,"%g"]`, t/1000, f.value(i, t))
		}
		sb.WriteString(`]}`)
	}
	sb.WriteString(`]}}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeResponse(body, 200); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*110_000/b.Elapsed().Seconds(), "points/s")
}
