package telemetry

import "testing"

func TestLevelFromSeverityNumber(t *testing.T) {
	tests := []struct {
		n    int
		want Level
	}{
		{-1, LevelUnknown},
		{0, LevelUnknown}, // SEVERITY_NUMBER_UNSPECIFIED
		{1, LevelTrace}, {4, LevelTrace},
		{5, LevelDebug}, {8, LevelDebug},
		{9, LevelInfo}, {12, LevelInfo},
		{13, LevelWarn}, {16, LevelWarn},
		{17, LevelError}, {20, LevelError},
		{21, LevelFatal}, {24, LevelFatal},
		{25, LevelUnknown},
		{1 << 20, LevelUnknown},
	}
	for _, tt := range tests {
		if got := LevelFromSeverityNumber(tt.n); got != tt.want {
			t.Errorf("LevelFromSeverityNumber(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}
