//go:build !unix

package logparse

import "time"

// processCPU is not measured here; benchmarks then report no CPU figures.
func processCPU() time.Duration { return 0 }
