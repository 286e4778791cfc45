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
			d := NewNewPatternDetector(DefaultNewPatternOptions())
			at := streamStart
			for i := range 400 {
				at = at.Add(10 * time.Second)
				if as := d.Observe(&telemetry.LogRecord{Time: at, Service: "s", TemplateID: "T" + string(rune('a'+i%3)), Level: telemetry.LevelInfo}); len(as) != 0 {
					t.Fatalf("during warm-up: %v", as)
				}
			}
			as := d.Observe(&telemetry.LogRecord{Time: at.Add(time.Second), Service: "s", TemplateID: "Tnew", Level: tt.level, Raw: "boom"})
			if len(as) != 1 || as[0].Score < tt.min || as[0].Score > tt.max {
				t.Fatalf("got %+v, want one score in [%v,%v]", as, tt.min, tt.max)
			}
			if as := d.Observe(&telemetry.LogRecord{Time: at.Add(2 * time.Second), Service: "s", TemplateID: "Tnew", Level: tt.level}); len(as) != 0 {
				t.Fatalf("second sighting reported: %v", as)
			}
		})
	}
}
