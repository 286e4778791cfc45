// Package chart draws time series for people: sparklines and banded plots
// for the terminal, and PNG line charts with shaded bands, using only the
// standard library. It serves `vigil forecast` (history, forecast and its
// prediction band) and `vigil metrics detect` (a series and its anomalies).
//
// Key invariant: drawing never fails on data: NaN and infinite values are
// skipped, empty or constant series draw as flat lines, and the output
// size is bounded by the requested width and height alone.
package chart

import (
	"math"
	"time"
)

// Point is one value at one instant.
type Point struct {
	T time.Time
	V float64
}

// Line is a series drawn as a line.
type Line struct {
	Name   string
	Points []Point
	// Color is the PNG colour as 0xRRGGBB; 0 picks one from the palette.
	Color uint32
}

// Band is a shaded range, e.g. a forecast's prediction interval: at
// Times[i] it spans Lo[i] to Hi[i]. Slices of unequal length are cut to the
// shortest.
type Band struct {
	Name   string
	Times  []time.Time
	Lo, Hi []float64
	// Color is the PNG fill as 0xRRGGBB; 0 is a light blue.
	Color uint32
}

// Chart is what to draw: bands first, then lines, then marks.
type Chart struct {
	Title string
	Lines []Line
	Bands []Band
	// Marks are instants to highlight, e.g. anomalies: a vertical rule in
	// PNG, a caret under the plot in the terminal.
	Marks []time.Time
}

// bounds is the data range of a chart.
type bounds struct {
	t0, t1 int64 // ms
	v0, v1 float64
	ok     bool
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (b *bounds) add(t time.Time, v float64) {
	if !finite(v) {
		return
	}
	ms := t.UnixMilli()
	if !b.ok {
		*b = bounds{t0: ms, t1: ms, v0: v, v1: v, ok: true}
		return
	}
	b.t0, b.t1 = min(b.t0, ms), max(b.t1, ms)
	b.v0, b.v1 = min(b.v0, v), max(b.v1, v)
}

// measure returns the range of everything in c, widened so that neither
// span is zero.
func (c *Chart) measure() bounds {
	var b bounds
	for _, l := range c.Lines {
		for _, p := range l.Points {
			b.add(p.T, p.V)
		}
	}
	for _, bd := range c.Bands {
		n := min(len(bd.Times), len(bd.Lo), len(bd.Hi))
		for i := 0; i < n; i++ {
			b.add(bd.Times[i], bd.Lo[i])
			b.add(bd.Times[i], bd.Hi[i])
		}
	}
	if !b.ok {
		return bounds{t0: 0, t1: 1, v0: 0, v1: 1, ok: false}
	}
	if b.t1 == b.t0 {
		b.t1 = b.t0 + 1
	}
	if b.v1 == b.v0 {
		d := math.Max(math.Abs(b.v0)*0.1, 1)
		b.v0, b.v1 = b.v0-d, b.v1+d
	}
	return b
}

// x maps a time to [0, 1].
func (b bounds) x(t time.Time) float64 {
	return float64(t.UnixMilli()-b.t0) / float64(b.t1-b.t0)
}

// y maps a value to [0, 1], 0 at the bottom.
func (b bounds) y(v float64) float64 {
	return (v - b.v0) / (b.v1 - b.v0)
}
