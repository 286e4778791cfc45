package chart

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"time"
)

// Size limits for PNG, so that a flag typo cannot ask for gigabytes.
const (
	MinPNGSize = 64
	MaxPNGSize = 8192
)

// palette is the default line colours.
var palette = []uint32{0x333333, 0x1f77b4, 0xd62728, 0x2ca02c, 0x9467bd}

func rgb(c uint32) color.RGBA {
	return color.RGBA{R: uint8(c >> 16), G: uint8(c >> 8), B: uint8(c), A: 0xff}
}

// PNG draws c as a width x height PNG: light grid, bands shaded, lines,
// marks as red rules, value labels on the left and the time range below.
func PNG(w io.Writer, c Chart, width, height int) error {
	if width < MinPNGSize || height < MinPNGSize || width > MaxPNGSize || height > MaxPNGSize {
		return fmt.Errorf("png size %dx%d: each side must be %d..%d", width, height, MinPNGSize, MaxPNGSize)
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), rgb(0xffffff))
	b := c.measure()

	// Plot area, leaving room for labels.
	left, right, top, bottom := 8+textWidth(8), width-10, 10, height-18
	if right-left < 16 || bottom-top < 16 {
		left, right, top, bottom = 2, width-2, 2, height-2
	}
	px := func(t time.Time) int { return left + int(math.Round(b.x(t)*float64(right-left))) }
	py := func(v float64) int { return bottom - int(math.Round(b.y(v)*float64(bottom-top))) }

	grid := rgb(0xe6e6e6)
	for k := 0; k <= 4; k++ {
		y := top + k*(bottom-top)/4
		hline(img, left, right, y, grid)
		v := b.v1 - float64(k)*(b.v1-b.v0)/4
		drawText(img, 4, y-2, FormatValue(v), rgb(0x555555))
	}
	for k := 0; k <= 4; k++ {
		vline(img, left+k*(right-left)/4, top, bottom, grid)
	}
	if b.ok {
		drawText(img, left, bottom+6, time.UnixMilli(b.t0).UTC().Format("01-02 15:04"), rgb(0x555555))
		end := time.UnixMilli(b.t1).UTC().Format("01-02 15:04")
		drawText(img, right-textWidth(len(end)), bottom+6, end, rgb(0x555555))
	}

	for _, bd := range c.Bands {
		col := rgb(bd.Color)
		if bd.Color == 0 {
			col = rgb(0xc6dbef)
		}
		n := min(len(bd.Times), len(bd.Lo), len(bd.Hi))
		// Fill between consecutive band points column by column, so the
		// band is continuous whatever the step.
		for i := 0; i+1 < n; i++ {
			if !finite(bd.Lo[i]) || !finite(bd.Hi[i]) || !finite(bd.Lo[i+1]) || !finite(bd.Hi[i+1]) {
				continue
			}
			x0, x1 := px(bd.Times[i]), px(bd.Times[i+1])
			for x := x0; x <= x1; x++ {
				f := 0.0
				if x1 > x0 {
					f = float64(x-x0) / float64(x1-x0)
				}
				lo := bd.Lo[i] + (bd.Lo[i+1]-bd.Lo[i])*f
				hi := bd.Hi[i] + (bd.Hi[i+1]-bd.Hi[i])*f
				vline(img, x, py(hi), py(lo), col)
			}
		}
		if n == 1 && finite(bd.Lo[0]) && finite(bd.Hi[0]) {
			vline(img, px(bd.Times[0]), py(bd.Hi[0]), py(bd.Lo[0]), col)
		}
	}
	for li, l := range c.Lines {
		col := rgb(l.Color)
		if l.Color == 0 {
			col = rgb(palette[li%len(palette)])
		}
		var prevOK bool
		var x0, y0 int
		for _, p := range l.Points {
			if !finite(p.V) {
				prevOK = false
				continue
			}
			x, y := px(p.T), py(p.V)
			if prevOK {
				line(img, x0, y0, x, y, col)
			} else {
				img.Set(x, y, col)
			}
			x0, y0, prevOK = x, y, true
		}
	}
	for _, m := range c.Marks {
		x := px(m)
		if x >= left && x <= right {
			vline(img, x, top, bottom, rgb(0xd62728))
		}
	}
	// Axes on top of everything.
	hline(img, left, right, bottom, rgb(0x888888))
	vline(img, left, top, bottom, rgb(0x888888))
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return nil
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

// line draws from (x0,y0) to (x1,y1) with Bresenham's algorithm; points
// outside the image are clipped by SetRGBA.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
