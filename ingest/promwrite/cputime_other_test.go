//go:build !unix

package promwrite

func cpuSeconds() float64 { return 0 }
