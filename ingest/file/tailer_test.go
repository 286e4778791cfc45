package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

func TestTailRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := tempPath(t, "payments.log")
		w := newWriter(t, path)
		c := &collector{}
		tl := startTailer(t, c, nil, path, func(o *Options) { o.Labels = map[string]string{"env": "prod"} })
		defer stopTailer(t, tl)
		start := time.Now()
		w.lines(1, 3)
		settle(1)
		wantLines(t, c.raws(), 1, 3)
		rec := c.recs[0]
		if rec.Service != "payments" {
			t.Errorf("Service = %q, want payments (from the file name)", rec.Service)
		}
		if want := telemetry.LabelsFromStrings("env", "prod", "filename", path); !rec.Labels.Equal(want) {
			t.Errorf("Labels = %v, want %v", rec.Labels, want)
		}
		if rec.Time.Before(start) || rec.Time.After(start.Add(testPoll)) {
			t.Errorf("Time = %v, want the receive time, within a poll of %v", rec.Time, start)
		}
		if rec.Format != "" || rec.Message != "" {
			t.Errorf("record parsed: %+v", rec)
		}
	})
}

func TestStartAt(t *testing.T) {
	tests := []struct {
		name    string
		startAt string
		want    []string
	}{
		// End skips the past but keeps the start of the line being written.
		{"end", StartAtEnd, []string{"old 3 finished", "new 1", "other 1"}},
		{"beginning", StartAtBeginning, []string{"old 1", "old 2", "old 3 finished", "new 1", "other 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				w := newWriter(t, filepath.Join(dir, "a.log"))
				w.write("old 1\nold 2\nold 3")
				c := &collector{}
				tl := startTailer(t, c, nil, filepath.Join(dir, "*.log"), func(o *Options) {
					o.Include = []string{filepath.Join(dir, "*.log")}
					o.StartAt = tc.startAt
				})
				defer stopTailer(t, tl)
				w.write(" finished\nnew 1\n")
				settle(1)
				// A file created after the start is read from its start.
				os.WriteFile(filepath.Join(dir, "b.log"), []byte("other 1\n"), 0o644)
				settle(1)
				if got := strings.Join(c.raws(), "|"); got != strings.Join(tc.want, "|") {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			})
		})
	}
}

func TestGlobPickup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		c := &collector{}
		tl := startTailer(t, c, nil, filepath.Join(dir, "*.log"), func(o *Options) {
			o.Include = []string{filepath.Join(dir, "*.log"), filepath.Join(dir, "sub", "*.log")}
			o.Exclude = []string{"skip-*"}
		})
		defer stopTailer(t, tl)
		os.Mkdir(filepath.Join(dir, "sub"), 0o755)
		for name, body := range map[string]string{
			"a.log":         "line 1\n",
			"sub/b.log":     "line 2\n",
			"skip-c.log":    "excluded\n",
			"d.txt":         "not matched\n",
			"sub/inner.txt": "not matched\n",
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		settle(1)
		got := c.raws()
		if strings.Join(got, "|") != "line 1|line 2" && strings.Join(got, "|") != "line 2|line 1" {
			t.Fatalf("got %q", got)
		}
		if n := value(tl.m.files); n != 2 {
			t.Errorf("files = %v, want 2", n)
		}
	})
}

func TestPartialLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := tempPath(t, "app.log")
		w := newWriter(t, path)
		store := &memStore{}
		c := &collector{}
		tl := startTailer(t, c, store, path, nil)
		w.write("line 1\nline ")
		settle(1)
		wantLines(t, c.raws(), 1, 1)
		w.write("2\nli")
		settle(1)
		wantLines(t, c.raws(), 1, 2)
		// Stopped with "li" held: the restart reads it again, once.
		stopTailer(t, tl)
		if got := store.get()[path].Offset; got != int64(len("line 1\nline 2\n")) {
			t.Errorf("saved offset %d, want the end of line 2", got)
		}
		tl = startTailer(t, c, store, path, nil)
		defer stopTailer(t, tl)
		w.write("ne 3\n")
		settle(1)
		wantLines(t, c.raws(), 1, 3)
	})
}

func TestMaxLineBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := tempPath(t, "app.log")
		w := newWriter(t, path)
		store := &memStore{}
		c := &collector{}
		mod := func(o *Options) { o.MaxLineBytes = 8 }
		tl := startTailer(t, c, store, path, mod)
		w.write("line 1\n" + strings.Repeat("x", 30))
		settle(1)
		// The long line is not finished: restart in its middle.
		stopTailer(t, tl)
		tl = startTailer(t, c, store, path, mod)
		defer stopTailer(t, tl)
		w.write(strings.Repeat("y", 30) + "\nline 2\n")
		settle(1)
		if got := strings.Join(c.raws(), "|"); got != "line 1|xxxxxxxx|line 2" {
			t.Errorf("got %q", got)
		}
		if n := value(tl.m.truncated); n != 1 {
			t.Errorf("truncated = %v, want 1", n)
		}
	})
}

func TestBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := tempPath(t, "app.log")
		w := newWriter(t, path)
		store := &memStore{}
		refusing := true
		c := &collector{fail: func(int) error {
			if refusing {
				return ingest.ErrBackpressure
			}
			return nil
		}}
		tl := startTailer(t, c, store, path, func(o *Options) { o.BatchSize = 10 })
		defer stopTailer(t, tl)
		settle(1) // the first poll saves the start position
		w.lines(1, 100)
		settle(3)
		if got := len(c.raws()); got != 0 {
			t.Fatalf("%d lines delivered while refused", got)
		}
		if got := store.get()[path].Offset; got != 0 {
			t.Fatalf("position saved at %d while nothing was accepted", got)
		}
		if value(tl.m.backpressure) == 0 {
			t.Error("backpressure not counted")
		}
		c.mtx.Lock()
		refusing = false
		c.mtx.Unlock()
		settle(2)
		wantLines(t, c.raws(), 1, 100)
	})
}

func TestSinkErrorRereads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := tempPath(t, "app.log")
		w := newWriter(t, path)
		c := &collector{fail: func(call int) error {
			if call == 1 {
				return errors.New("bus closed")
			}
			return nil
		}}
		tl := startTailer(t, c, &memStore{}, path, func(o *Options) { o.BatchSize = 5 })
		defer stopTailer(t, tl)
		w.lines(1, 20)
		settle(2)
		wantLines(t, c.raws(), 1, 20)
		if n := value(tl.m.errors.WithLabelValues(opDeliver)); n != 1 {
			t.Errorf("deliver errors = %v, want 1", n)
		}
	})
}

// TestCrashWindow shows what a SIGKILL can repeat: the lines the Sink
// accepted after the last save that reached the store, and nothing else.
func TestCrashWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := tempPath(t, "app.log")
		w := newWriter(t, path)
		store := &memStore{}
		c := &collector{}
		tl := startTailer(t, c, store, path, func(o *Options) { o.BatchSize = 5 })
		w.lines(1, 10)
		settle(1)
		// From here saves are lost, as if the process died right after
		// the Sink accepted lines 11-15.
		store.mtx.Lock()
		store.frozen = true
		store.mtx.Unlock()
		w.lines(11, 15)
		settle(1)
		stopTailer(t, tl) // the saves after the "crash" are lost too
		store.mtx.Lock()
		store.frozen = false
		store.mtx.Unlock()
		c2 := &collector{}
		tl = startTailer(t, c2, store, path, nil)
		defer stopTailer(t, tl)
		w.lines(16, 20)
		settle(1)
		wantLines(t, c.raws(), 1, 15)
		wantLines(t, c2.raws(), 11, 20) // 11-15 repeat, nothing is lost
	})
}

func TestDeletedFileReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := tempPath(t, "app.log")
		w := newWriter(t, path)
		store := &memStore{}
		c := &collector{}
		tl := startTailer(t, c, store, path, nil)
		defer stopTailer(t, tl)
		w.write("line 1\nline 2")
		settle(1)
		os.Remove(path)
		w.write("\nline 3\nline 4") // the writer still holds it
		settle(1)
		wantLines(t, c.raws(), 1, 3)
		settle(3) // RotateWait: the unfinished line goes out as it is
		wantLines(t, c.raws(), 1, 4)
		if n := value(tl.m.files); n != 0 {
			t.Errorf("files = %v, want 0 after release", n)
		}
		if n := value(tl.m.unterminated); n != 1 {
			t.Errorf("unterminated = %v, want 1", n)
		}
		if got := store.get(); len(got) != 0 {
			t.Errorf("positions kept for a released file: %v", got)
		}
	})
}

func TestServiceFor(t *testing.T) {
	tests := []struct {
		service string
		labels  map[string]string
		path    string
		want    string
	}{
		{"", nil, "/var/log/payments.log", "payments"},
		{"", nil, "/var/log/app.2024-01-01.log", "app"},
		{"", nil, "/var/log/.hidden", ".hidden"},
		{"", nil, "/var/log/messages", "messages"},
		{"", map[string]string{"job": "j", "app": "a"}, "/x.log", "j"},
		{"", map[string]string{"service_name": "s", "job": "j"}, "/x.log", "s"},
		{"svc", map[string]string{"service": "other"}, "/x.log", "svc"},
	}
	for _, tc := range tests {
		t.Run(tc.path+tc.want, func(t *testing.T) {
			o := Options{Service: tc.service, Labels: tc.labels}
			if got := o.serviceFor(tc.path); got != tc.want {
				t.Errorf("serviceFor = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		ok   bool
	}{
		{"minimal", func(o *Options) {}, true},
		{"no sink", func(o *Options) { o.Sink = nil }, false},
		{"no include", func(o *Options) { o.Include = nil }, false},
		{"bad include", func(o *Options) { o.Include = []string{"/var/log/[.log"} }, false},
		{"bad exclude", func(o *Options) { o.Exclude = []string{"["} }, false},
		{"bad start at", func(o *Options) { o.StartAt = "middle" }, false},
		{"poll too fast", func(o *Options) { o.PollInterval = time.Microsecond }, false},
		{"negative max line", func(o *Options) { o.MaxLineBytes = -1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Include = []string{"/var/log/*.log"}
			o.Sink = ingest.SinkFuncs{}
			tc.mod(&o)
			if _, err := New(o); (err == nil) != tc.ok {
				t.Errorf("New = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	o := DefaultOptions()
	o.Include = []string{filepath.Join(t.TempDir(), "*.log")}
	o.Sink = ingest.SinkFuncs{}
	tl, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start = %v", err)
	}
	if err := tl.Start(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop = %v, want ErrStopped", err)
	}
	tl, _ = New(o)
	if err := tl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tl.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	if err := tl.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStartFailsOnOffsetLoad(t *testing.T) {
	path := tempPath(t, "offsets.json")
	os.WriteFile(path, []byte("{not json"), 0o644)
	o := DefaultOptions()
	o.Include = []string{"/nonexistent/*.log"}
	o.Sink = ingest.SinkFuncs{}
	o.Offsets = &FileOffsetStore{Path: path}
	tl, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Start(context.Background()); err == nil {
		t.Fatal("Start with unreadable offsets succeeded")
	}
}
