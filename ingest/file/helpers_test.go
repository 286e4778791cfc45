package file

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

const testPoll = time.Second

// collector is a Sink that keeps what it accepts; fail, when set, chooses
// the error of each call (nil accepts).
type collector struct {
	mtx   sync.Mutex
	recs  []telemetry.LogRecord
	calls int
	fail  func(call int) error
}

func (c *collector) Logs(_ context.Context, recs []telemetry.LogRecord) error {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	c.calls++
	if c.fail != nil {
		if err := c.fail(c.calls); err != nil {
			return err
		}
	}
	c.recs = append(c.recs, recs...)
	return nil
}

func (c *collector) sink() ingest.Sink { return ingest.SinkFuncs{LogsFunc: c.Logs} }

func (c *collector) raws() []string {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	out := make([]string, len(c.recs))
	for i, r := range c.recs {
		out[i] = r.Raw
	}
	return out
}

// memStore is an OffsetStore in memory. While frozen, Save reports success
// but keeps nothing: what a SIGKILL right after a delivery looks like.
type memStore struct {
	mtx    sync.Mutex
	m      map[string]Offset
	saves  int
	frozen bool
}

func (s *memStore) Load(context.Context) (map[string]Offset, error) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	return maps.Clone(s.m), nil
}

func (s *memStore) Save(_ context.Context, m map[string]Offset) error {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	s.saves++
	if !s.frozen {
		s.m = maps.Clone(m)
	}
	return nil
}

func (s *memStore) get() map[string]Offset {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	return maps.Clone(s.m)
}

// startTailer starts a tailer on the include pattern with test timings.
func startTailer(t *testing.T, c *collector, offsets OffsetStore, include string, mod func(*Options)) *Tailer {
	t.Helper()
	o := DefaultOptions()
	o.PollInterval = testPoll
	o.RotateWait = 3 * testPoll
	o.Sink = c.sink()
	o.Offsets = offsets
	o.Include = []string{include}
	o.Registerer = prometheus.NewRegistry()
	if testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	if mod != nil {
		mod(&o)
	}
	tl, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tl
}

func stopTailer(t *testing.T, tl *Tailer) {
	t.Helper()
	if err := tl.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// settle lets n polls run (in a synctest bubble, at once).
func settle(n int) {
	for range n {
		time.Sleep(testPoll)
		synctest.Wait()
	}
}

// logWriter writes numbered lines the way a logging process does: it
// keeps its file open (O_APPEND) until told to reopen.
type logWriter struct {
	t    *testing.T
	path string
	f    *os.File
}

func newWriter(t *testing.T, path string) *logWriter {
	w := &logWriter{t: t, path: path}
	w.open()
	t.Cleanup(func() { w.f.Close() })
	return w
}

func (w *logWriter) open() {
	f, err := os.OpenFile(w.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
}

func (w *logWriter) write(s string) {
	if _, err := w.f.WriteString(s); err != nil {
		w.t.Fatal(err)
	}
}

// lines writes "line from" .. "line to".
func (w *logWriter) lines(from, to int) {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	w.write(b.String())
}

// rename rotates the file away; the writer keeps writing to it until reopen.
func (w *logWriter) rename(to string) {
	if err := os.Rename(w.path, to); err != nil {
		w.t.Fatal(err)
	}
}

func (w *logWriter) reopen() {
	w.f.Close()
	w.open()
}

// copyTruncate rotates as logrotate's copytruncate does.
func (w *logWriter) copyTruncate(to string) {
	b, err := os.ReadFile(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		w.t.Fatal(err)
	}
	if err := w.f.Truncate(0); err != nil {
		w.t.Fatal(err)
	}
}

// wantLines checks that got is exactly "line from" .. "line to", in order.
func wantLines(t *testing.T, got []string, from, to int) {
	t.Helper()
	var want []string
	for i := from; i <= to; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %d lines %q\nwant %d lines %d..%d", len(got), got, len(want), from, to)
	}
}

func value(m prometheus.Metric) float64 {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		panic(err)
	}
	if c := pb.GetCounter(); c != nil {
		return c.GetValue()
	}
	return pb.GetGauge().GetValue()
}

func tempPath(t *testing.T, name string) string {
	return filepath.Join(t.TempDir(), name)
}
