package chart

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

var sparks = []rune("▁▂▃▄▅▆▇█")

// Sparkline renders values as one line of block characters, resampled to
// at most width characters (width <= 0: one per value) by averaging.
// Non-finite values are blanks.
func Sparkline(values []float64, width int) string {
	vs := resample(values, width)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if finite(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	var sb strings.Builder
	for _, v := range vs {
		switch {
		case !finite(v):
			sb.WriteRune(' ')
		case hi == lo:
			sb.WriteRune(sparks[len(sparks)/2-1])
		default:
			k := int((v - lo) / (hi - lo) * float64(len(sparks)-1))
			sb.WriteRune(sparks[min(max(k, 0), len(sparks)-1)])
		}
	}
	return sb.String()
}

// resample averages values into at most width buckets, skipping
// non-finite values (a bucket of only those is NaN).
func resample(values []float64, width int) []float64 {
	if width <= 0 || len(values) <= width {
		return values
	}
	out := make([]float64, width)
	for i := range out {
		a, b := i*len(values)/width, (i+1)*len(values)/width
		var s float64
		var n int
		for _, v := range values[a:b] {
			if finite(v) {
				s += v
				n++
			}
		}
		out[i] = math.NaN()
		if n > 0 {
			out[i] = s / float64(n)
		}
	}
	return out
}

// Text draws c as a plot of width x height character cells (at least
// 20 x 4) with a value axis on the left and the time range below: bands
// as '░', the first line as '●', further lines as '•', '×', '+', marks as
// '^' under the plot.
func Text(w io.Writer, c Chart, width, height int) error {
	width, height = max(width, 20), max(height, 4)
	b := c.measure()
	hiLabel, loLabel := FormatValue(b.v1), FormatValue(b.v0)
	lw := max(len(hiLabel), len(loLabel))
	pw := max(width-lw-2, 8) // plot width
	grid := make([][]rune, height)
	for i := range grid {
		grid[i] = []rune(strings.Repeat(" ", pw))
	}
	cell := func(t time.Time, v float64) (int, int, bool) {
		if !finite(v) {
			return 0, 0, false
		}
		col := int(math.Round(b.x(t) * float64(pw-1)))
		row := height - 1 - int(math.Round(b.y(v)*float64(height-1)))
		if col < 0 || col >= pw || row < 0 || row >= height {
			return 0, 0, false
		}
		return col, row, true
	}
	for _, bd := range c.Bands {
		n := min(len(bd.Times), len(bd.Lo), len(bd.Hi))
		for i := 0; i < n; i++ {
			c1, r1, ok1 := cell(bd.Times[i], bd.Hi[i])
			_, r2, ok2 := cell(bd.Times[i], bd.Lo[i])
			if !ok1 || !ok2 {
				continue
			}
			for r := r1; r <= r2; r++ {
				grid[r][c1] = '░'
			}
		}
	}
	lineGlyphs := []rune{'●', '•', '×', '+'}
	for li, l := range c.Lines {
		g := lineGlyphs[min(li, len(lineGlyphs)-1)]
		for _, p := range l.Points {
			if col, row, ok := cell(p.T, p.V); ok {
				grid[row][col] = g
			}
		}
	}
	if c.Title != "" {
		if _, err := fmt.Fprintln(w, c.Title); err != nil {
			return err
		}
	}
	for i, row := range grid {
		label := ""
		switch i {
		case 0:
			label = hiLabel
		case height - 1:
			label = loLabel
		}
		if _, err := fmt.Fprintf(w, "%*s │%s\n", lw, label, string(row)); err != nil {
			return err
		}
	}
	axis := []rune(strings.Repeat("─", pw))
	for _, m := range c.Marks {
		col := int(math.Round(b.x(m) * float64(pw-1)))
		if col >= 0 && col < pw {
			axis[col] = '^'
		}
	}
	if _, err := fmt.Fprintf(w, "%*s └%s\n", lw, "", string(axis)); err != nil {
		return err
	}
	if b.ok {
		from := time.UnixMilli(b.t0).UTC().Format("2006-01-02 15:04")
		to := time.UnixMilli(b.t1).UTC().Format("2006-01-02 15:04")
		pad := max(pw-len(from)-len(to), 1)
		if _, err := fmt.Fprintf(w, "%*s  %s%s%s\n", lw, "", from, strings.Repeat(" ", pad), to); err != nil {
			return err
		}
	}
	var legend []string
	for li, l := range c.Lines {
		if l.Name != "" {
			legend = append(legend, string(lineGlyphs[min(li, len(lineGlyphs)-1)])+" "+l.Name)
		}
	}
	for _, bd := range c.Bands {
		if bd.Name != "" {
			legend = append(legend, "░ "+bd.Name)
		}
	}
	if len(c.Marks) > 0 {
		legend = append(legend, "^ marked")
	}
	if len(legend) > 0 {
		if _, err := fmt.Fprintf(w, "%*s  %s\n", lw, "", strings.Join(legend, "   ")); err != nil {
			return err
		}
	}
	return nil
}

// FormatValue renders a value compactly for axes: about 3 significant
// digits, with k, M, G for large magnitudes and no exponent between 0.001
// and 1e12.
func FormatValue(v float64) string {
	if !finite(v) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	a := math.Abs(v)
	switch {
	case a >= 1e12 || (a > 0 && a < 1e-3):
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 1e9:
		return sig3(v/1e9) + "G"
	case a >= 1e6:
		return sig3(v/1e6) + "M"
	case a >= 1e4:
		return sig3(v/1e3) + "k"
	}
	return sig3(v)
}

// sig3 renders v (|v| < 1e4) with about 3 significant digits, no exponent.
func sig3(v float64) string {
	a := math.Abs(v)
	dec := 0
	if a > 0 {
		dec = max(0, 2-int(math.Floor(math.Log10(a))))
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
