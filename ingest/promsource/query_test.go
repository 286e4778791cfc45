package promsource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rampProm answers query_range with a ramp (value = Unix seconds / 60) for
// every requested instant, NaN at every tenth, recording the requests.
type rampProm struct {
	mu    sync.Mutex
	calls []string
	token string
}

func (f *rampProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query_range" {
		http.NotFound(w, r)
		return
	}
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "no token")
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.Form.Get("start")+".."+r.Form.Get("end"))
	f.mu.Unlock()
	if r.Form.Get("query") == "bad(" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"unexpected end of input"}`)
		return
	}
	start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
	end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
	step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
	var sb strings.Builder
	sb.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"x"},"values":[`)
	for t, first := start, true; t <= end; t += step {
		if !first {
			sb.WriteByte(',')
		}
		first = false
		v := strconv.FormatFloat(t/60, 'f', -1, 64)
		if int64(t/60)%10 == 0 {
			v = "NaN"
		}
		fmt.Fprintf(&sb, `[%v,"%s"]`, t, v)
	}
	sb.WriteString(`]}]}}`)
	fmt.Fprint(w, sb.String())
}

// TestClientQueryRange: a long range is read in chunks under MaxPoints and
// joined; non-finite values become gaps; Prometheus' errors, refusals, an
// oversized answer and a bad range each end in a clear error.
func TestClientQueryRange(t *testing.T) {
	fp := &rampProm{token: "s3cret"}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	c := &Client{URL: srv.URL + "/", BearerToken: "s3cret", MaxPoints: 100}
	end := time.Unix(1_700_000_000, 0)
	start := end.Add(-249 * time.Minute)
	ss, err := c.QueryRange(context.Background(), "up", start, end, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || len(ss[0].Points) != 225 {
		t.Fatalf("got %d series, %+v; want 1 series of 250 evaluations joined from chunks, 25 NaN left out", len(ss), ss)
	}
	for i := 1; i < len(ss[0].Points); i++ {
		if d := ss[0].Points[i].T - ss[0].Points[i-1].T; d != 60_000 && d != 120_000 {
			t.Fatalf("points %d and %d are %d ms apart", i-1, i, d)
		}
	}
	if len(fp.calls) != 3 {
		t.Errorf("%d requests (%v), want 3 chunks of at most 100 points", len(fp.calls), fp.calls)
	}

	t.Run("api error", func(t *testing.T) {
		_, err := c.QueryRange(context.Background(), "bad(", start, end, time.Minute)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Type != "bad_data" || !strings.Contains(err.Error(), "unexpected end of input") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("unauthorised", func(t *testing.T) {
		c2 := *c
		c2.BearerToken = ""
		_, err := c2.QueryRange(context.Background(), "up", start, end, time.Minute)
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		c2 := *c
		c2.MaxResponseBytes = 100
		if _, err := c2.QueryRange(context.Background(), "up", start, end, time.Minute); !errors.Is(err, ErrResponseTooLarge) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad range", func(t *testing.T) {
		if _, err := c.QueryRange(context.Background(), "up", end, start, time.Minute); err == nil {
			t.Fatal("accepted end before start")
		}
		if _, err := c.QueryRange(context.Background(), "up", start, end, 0); err == nil {
			t.Fatal("accepted step 0")
		}
	})
}
