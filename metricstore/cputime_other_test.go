//go:build !unix

package metricstore

func cpuSeconds() float64 { return 0 }
