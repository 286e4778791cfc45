package detect

import (
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
