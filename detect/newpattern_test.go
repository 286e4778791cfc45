package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func TestNewPatternScoresByLevel(t *testing.T) {
	tests := []struct {
		level telemetry.Level
		min   float64
		max   float64
	}{
		{telemetry.LevelFatal, 0.95, 1},
		{telemetry.LevelError, 0.85, 0.95},
		{telemetry.LevelWarn, 0.6, 0.75},
		{telemetry.LevelInfo, 0.4, 0.55},
		{telemetry.LevelDebug, 0.2, 0.35},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			o := DefaultNewPatternOptions()
			o.SaturationLines = 100 // the three templates all show in the first lines
			d := NewNewPatternDetector(o)
			at := streamStart
			for i := range 400 {
				at = at.Add(10 * time.Second)
				if as := d.Observe(&telemetry.LogRecord{Time: at, Service: "s", TemplateID: "T" + string(rune('a'+i%3)), Level: telemetry.LevelInfo}); len(as) != 0 {
					t.Fatalf("during warm-up: %v", as)
				}
			}
			as := d.Observe(&telemetry.LogRecord{Time: at.Add(time.Second), Service: "s", TemplateID: "Tnew", Level: tt.level, Raw: "boom"})
			if tt.level < telemetry.LevelWarn {
				// Below WARN a new template must burst to be reported.
				if len(as) != 0 {
					t.Fatalf("single %s line reported: %v", tt.level, as)
				}
				for i := 2; i <= o.BurstLines && len(as) == 0; i++ {
					at = at.Add(time.Second)
					as = d.Observe(&telemetry.LogRecord{Time: at.Add(time.Second), Service: "s", TemplateID: "Tnew", Level: tt.level})
				}
			}
			if len(as) != 1 || as[0].Score < tt.min || as[0].Score > tt.max {
				t.Fatalf("got %+v, want one score in [%v,%v]", as, tt.min, tt.max)
			}
			if as := d.Observe(&telemetry.LogRecord{Time: at.Add(2 * time.Second), Service: "s", TemplateID: "Tnew", Level: tt.level}); len(as) != 0 {
				t.Fatalf("second sighting reported: %v", as)
			}
		})
	}
}

// TestNewPatternGoodTuring: a service that keeps shedding one-off
// templates (many seen once) does not report one more; a service whose
// templates all recur does.
func TestNewPatternGoodTuring(t *testing.T) {
	o := DefaultNewPatternOptions()
	o.SaturationLines = 100
	for _, oneOffs := range []int{0, 20} {
		d := NewNewPatternDetector(o)
		at := streamStart
		for i := range 4000 {
			at = at.Add(10 * time.Second)
			id := "T" + string(rune('a'+i%3))
			if i%150 == 0 && i/150 < oneOffs && i > 0 {
				id = "once" + string(rune('A'+i/150))
			}
			d.Observe(&telemetry.LogRecord{Time: at, Service: "s", TemplateID: id, Level: telemetry.LevelInfo})
		}
		as := d.Observe(&telemetry.LogRecord{Time: at.Add(time.Second), Service: "s", TemplateID: "Tnew", Level: telemetry.LevelError})
		if want := oneOffs == 0; (len(as) == 1) != want {
			t.Errorf("%d one-off templates before: got %v, want reported=%v", oneOffs, as, want)
		}
	}
}

// TestNewPatternRecurrence: in a service that already logs ERROR lines, a
// new WARN or ERROR template is reported when it recurs within the burst
// window, not on a single line; a FATAL one, or any in a service that
// never logged at its level, reports on its first line.
func TestNewPatternRecurrence(t *testing.T) {
	tests := []struct {
		name       string
		history    telemetry.Level // level of every tenth warm-up line
		level      telemetry.Level // of the new template
		recurLines int
		second     time.Duration // after the first line; 0: none
		wantAt     int           // line of the new template that reports; 0: none
	}{
		{"error among errors, once", telemetry.LevelError, telemetry.LevelError, 0, 0, 0},
		{"error among errors, recurs", telemetry.LevelError, telemetry.LevelError, 0, 3 * time.Minute, 2},
		{"error among errors, recurs too late", telemetry.LevelError, telemetry.LevelError, 0, 11 * time.Minute, 0},
		{"warn among errors, recurs", telemetry.LevelError, telemetry.LevelWarn, 0, time.Minute, 2},
		{"error among warns only", telemetry.LevelWarn, telemetry.LevelError, 0, 0, 1},
		{"fatal among fatals", telemetry.LevelFatal, telemetry.LevelFatal, 0, 0, 1},
		{"error among errors, RecurLines 1", telemetry.LevelError, telemetry.LevelError, 1, 0, 1},
	}
	for _, tt := range tests {
		// Alone, and inside LogDetectors, which feeds lines of settled
		// templates through a shorter path.
		for _, set := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, in LogDetectors %v", tt.name, set), func(t *testing.T) {
				o := DefaultNewPatternOptions()
				o.SaturationLines = 100
				o.RecurLines = tt.recurLines
				observe := NewNewPatternDetector(o).Observe
				if set {
					lo := DefaultLogDetectorsOptions()
					lo.NewPattern = o
					ld := NewLogDetectors(lo)
					observe = func(rec *telemetry.LogRecord) []Anomaly {
						var out []Anomaly
						for _, a := range ld.Observe(rec) {
							if a.Type == TypeNewPattern {
								out = append(out, a)
							}
						}
						return out
					}
				}
				at := streamStart
				for i := range 400 {
					at = at.Add(10 * time.Second)
					l := telemetry.LevelInfo
					if i%10 == 9 {
						l = tt.history
					}
					if as := observe(&telemetry.LogRecord{Time: at, Service: "s", TemplateID: "T" + string(rune('a'+i%3)), Level: l}); len(as) != 0 {
						t.Fatalf("during warm-up: %v", as)
					}
				}
				first := at.Add(time.Second)
				got := 0
				if as := observe(&telemetry.LogRecord{Time: first, Service: "s", TemplateID: "Tnew", Level: tt.level}); len(as) > 0 {
					got = 1
				}
				if tt.second > 0 {
					as := observe(&telemetry.LogRecord{Time: first.Add(tt.second), Service: "s", TemplateID: "Tnew", Level: tt.level})
					if len(as) > 0 {
						if got != 0 {
							t.Fatalf("reported twice: %v", as)
						}
						got = 2
						if !as[0].Start.Equal(first) || !strings.Contains(as[0].Explanation, "2 lines of it") {
							t.Errorf("anomaly %+v, want it to start at the first line and count 2 lines", as[0])
						}
					}
				}
				if got != tt.wantAt {
					t.Errorf("reported on line %d of the new template, want %d (0: never)", got, tt.wantAt)
				}
			})
		}
	}
}
