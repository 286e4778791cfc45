package ndjson

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// streamAll runs a stream over r with a small read buffer, so that lines
// outgrow it.
func streamAll(t testing.TB, r io.Reader, sink ingest.Sink, o StreamOptions, bufSize int) (ingest.Result, error) {
	t.Helper()
	o.fillDefaults()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	m, _ := newMetrics(nil)
	s := newStream(r, sink, &o, m, bufSize)
	err := s.run(context.Background())
	return s.res, err
}

func TestReadStream(t *testing.T) {
	big := `{"msg":"` + strings.Repeat("b", 100_000) + `"}` // over the 64 KiB read buffer, under the limit
	huge := strings.Repeat("h", 300_000)                    // over the default 256 KiB limit
	input := "first\n" + big + "\n\n" + huge + "\r\n" + "{\"msg\":\"crlf\"}\r\n" + "  \n" + "last without newline"
	var rec recorder
	res, err := ReadStream(context.Background(), strings.NewReader(input), rec.sink(), StreamOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"first", big, `{"msg":"crlf"}`, "last without newline"}
	if got := raws(rec.records()); !reflect.DeepEqual(got, want) {
		t.Fatalf("delivered %d lines %.60q, want %d", len(got), got, len(want))
	}
	if res.Accepted != 4 || !reflect.DeepEqual(res.Rejected, []ingest.Rejection{{Index: 4, Reason: "line is 300000 bytes, limit 262144"}}) {
		t.Fatalf("result %+v", res)
	}
	if got := rec.records()[2].Message; got != "crlf" {
		t.Errorf("message %q", got)
	}
}

// TestReadStreamMatchesBody checks that a stream, whatever the sizes of
// its reads and of its buffer, reads the same lines as a request body.
func TestReadStreamMatchesBody(t *testing.T) {
	input := "a\n" + strings.Repeat("x", 40) + "\r\n\r\n" + strings.Repeat("y", 41) + "\n" + strings.Repeat("z", 42) + "\r\n" +
		"{\"msg\":\"m\"}\n\n  \n" + strings.Repeat("w", 39) + "\r\r\n" + strings.Repeat("v", 100) + "\n" + "tail\r"
	for _, maxLine := range []int{1, 20, 39, 40, 41, 42, 100, 1000} {
		checkStreamMatchesBody(t, []byte(input), maxLine)
	}
}

func checkStreamMatchesBody(t *testing.T, input []byte, maxLine int) {
	t.Helper()
	m, _ := newMetrics(nil)
	d := lineDecoder{cfg: lineConfig{maxLine: maxLine, maxFields: DefaultMaxFields}}
	wantRecs, wantRes := d.decodeAll(input, now, 0, m)
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for name, wrap := range readers {
		for _, bufSize := range []int{16, 17, 64, 4096} {
			var rec recorder
			res, err := streamAll(t, wrap(strings.NewReader(string(input))), rec.sink(), StreamOptions{MaxLineBytes: maxLine, Now: func() time.Time { return now }, BatchSize: 3}, bufSize)
			if err != nil {
				t.Fatalf("%s/%d: %v", name, bufSize, err)
			}
			got := rec.records()
			if len(got) != len(wantRecs) || (len(got) > 0 && !reflect.DeepEqual(got, wantRecs)) {
				t.Fatalf("max %d, %s reader, buffer %d: stream read\n%q\nbody read\n%q", maxLine, name, bufSize, raws(got), raws(wantRecs))
			}
			if res.Accepted != len(wantRecs) || !reflect.DeepEqual(res.Rejected, wantRes.Rejected) {
				t.Fatalf("max %d, %s reader, buffer %d: stream rejected %+v, body %+v", maxLine, name, bufSize, res.Rejected, wantRes.Rejected)
			}
			for _, b := range rec.batches {
				if len(b) > 3 {
					t.Fatalf("batch of %d records, BatchSize 3", len(b))
				}
			}
		}
	}
}

func TestReadStreamSlowSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The pipeline is full for the first three offers of each batch.
		refusals := 0
		rec := recorder{fail: func(int) error {
			if refusals%4 < 3 {
				refusals++
				return ingest.ErrBackpressure
			}
			refusals++
			return nil
		}}
		var lines []string
		for i := range 25 {
			lines = append(lines, `{"msg":"line `+string(rune('a'+i))+`"}`)
		}
		m, _ := newMetrics(nil)
		o := StreamOptions{BatchSize: 10}
		o.fillDefaults()
		s := newStream(strings.NewReader(strings.Join(lines, "\n")+"\n"), rec.sink(), &o, m, streamBufferSize)
		start := time.Now()
		if err := s.run(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Three batches (10, 10, 5), each waiting 10+20+40 ms.
		if got := time.Since(start); got != 3*70*time.Millisecond {
			t.Errorf("waited %v", got)
		}
		if got := raws(rec.records()); !reflect.DeepEqual(got, lines) {
			t.Errorf("delivered %q", got)
		}
		if s.res.Accepted != 25 || counterValue(m.waits) != 9 || len(rec.batches) != 3 {
			t.Errorf("accepted %d, waits %v, batches %d", s.res.Accepted, counterValue(m.waits), len(rec.batches))
		}
	})
}

func TestReadStreamBackoffIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var offers []time.Duration
		start := time.Now()
		rec := recorder{fail: func(call int) error {
			offers = append(offers, time.Since(start))
			if call < 12 {
				return ingest.ErrBackpressure
			}
			return nil
		}}
		_, err := ReadStream(context.Background(), strings.NewReader("x"), rec.sink(), StreamOptions{RetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		// Waits of 100, 200, 400, then 500 ms.
		want := []time.Duration{0, 100, 300, 700, 1200, 1700, 2200, 2700, 3200, 3700, 4200, 4700}
		for i := range want {
			want[i] *= time.Millisecond
		}
		if !reflect.DeepEqual(offers, want) {
			t.Errorf("offers at %v", offers)
		}
	})
}

func TestReadStreamCancelledWhileFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := recorder{fail: func(int) error { return ingest.ErrBackpressure }}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := ReadStream(ctx, strings.NewReader("a\nb\n"), rec.sink(), StreamOptions{})
		if !errors.Is(err, context.DeadlineExceeded) || res.Accepted != 0 {
			t.Fatalf("result %+v, err %v", res, err)
		}
	})
}

func TestReadStreamDeliversBeforeBlocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		var rec recorder
		done := make(chan error)
		go func() {
			_, err := ReadStream(context.Background(), pr, rec.sink(), StreamOptions{})
			done <- err
		}()
		pw.Write([]byte("one\ntwo\nthree, not yet ended"))
		synctest.Wait()
		// The stream is blocked reading: the complete lines are delivered.
		if got := raws(rec.records()); !reflect.DeepEqual(got, []string{"one", "two"}) {
			t.Fatalf("delivered before the writer paused: %q", got)
		}
		pw.Write([]byte("\nfour\n"))
		synctest.Wait()
		if got := raws(rec.records()); len(got) != 4 {
			t.Fatalf("delivered %q", got)
		}
		pw.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestReadStreamErrors(t *testing.T) {
	boom := errors.New("boom")
	t.Run("read error keeps the lines before it", func(t *testing.T) {
		var rec recorder
		r := io.MultiReader(strings.NewReader("a\nb\npartial"), iotest.ErrReader(boom))
		res, err := ReadStream(context.Background(), r, rec.sink(), StreamOptions{})
		if !errors.Is(err, boom) || res.Accepted != 3 {
			t.Fatalf("result %+v, err %v", res, err)
		}
		if got := raws(rec.records()); !reflect.DeepEqual(got, []string{"a", "b", "partial"}) {
			t.Fatalf("delivered %q", got)
		}
	})
	t.Run("sink failure stops the stream", func(t *testing.T) {
		rec := recorder{fail: func(int) error { return boom }}
		res, err := ReadStream(context.Background(), strings.NewReader("a\n"), rec.sink(), StreamOptions{})
		if !errors.Is(err, boom) || res.Accepted != 0 {
			t.Fatalf("result %+v, err %v", res, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var rec recorder
		if _, err := ReadStream(ctx, strings.NewReader("a\n"), rec.sink(), StreamOptions{}); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

func TestReadStreamLabelsAndService(t *testing.T) {
	var rec recorder
	labels := telemetry.LabelsFromStrings("source", "stdin")
	_, err := ReadStream(context.Background(), strings.NewReader("plain\n{\"service\":\"x\"}\n"), rec.sink(),
		StreamOptions{DefaultService: "cli", Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.records()
	if got[0].Service != "cli" || got[1].Service != "x" || !got[0].Labels.Equal(labels) {
		t.Fatalf("%+v", got)
	}
}
