package chart

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSparkline(t *testing.T) {
	tests := []struct {
		name  string
		in    []float64
		width int
		want  string
	}{
		{"ramp", []float64{0, 1, 2, 3, 4, 5, 6, 7}, 0, "▁▂▃▄▅▆▇█"},
		{"constant", []float64{3, 3, 3}, 0, "▄▄▄"},
		{"gaps", []float64{0, math.NaN(), 1}, 0, "▁ █"},
		{"resampled", []float64{0, 0, 7, 7}, 2, "▁█"},
		{"empty", nil, 10, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sparkline(tc.in, tc.width); got != tc.want {
				t.Errorf("Sparkline = %q, want %q", got, tc.want)
			}
		})
	}
}

func sample() Chart {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var hist, fc []Point
	var times []time.Time
	var lo, hi []float64
	for i := 0; i < 100; i++ {
		hist = append(hist, Point{T: t0.Add(time.Duration(i) * time.Minute), V: 10 + math.Sin(float64(i)/10)})
	}
	for i := 100; i < 130; i++ {
		tm := t0.Add(time.Duration(i) * time.Minute)
		v := 10 + math.Sin(float64(i)/10)
		fc = append(fc, Point{T: tm, V: v})
		times = append(times, tm)
		lo = append(lo, v-0.5-float64(i-100)/30)
		hi = append(hi, v+0.5+float64(i-100)/30)
	}
	return Chart{
		Title: "cpu",
		Lines: []Line{{Name: "history", Points: hist}, {Name: "forecast", Points: fc}},
		Bands: []Band{{Name: "q10-q90", Times: times, Lo: lo, Hi: hi}},
		Marks: []time.Time{t0.Add(50 * time.Minute)},
	}
}

func TestText(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, sample(), 60, 10); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// title, 10 rows, axis, times, legend
	if len(lines) != 14 {
		t.Fatalf("%d lines, want 14:\n%s", len(lines), out)
	}
	for _, want := range []string{"●", "•", "░", "^", "2026-01-01 00:00", "2026-01-01 02:09", "q10-q90"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for i, l := range lines[1:12] {
		if n := utf8.RuneCountInString(l); n > 60 {
			t.Errorf("line %d is %d wide, want <= 60", i+1, n)
		}
	}
}

func TestTextDegenerate(t *testing.T) {
	for name, c := range map[string]Chart{
		"empty":    {},
		"nan only": {Lines: []Line{{Points: []Point{{T: time.Unix(0, 0), V: math.NaN()}}}}},
		"one point": {Lines: []Line{{Points: []Point{{T: time.Unix(5, 0), V: 3}}}},
			Bands: []Band{{Times: []time.Time{time.Unix(5, 0)}, Lo: []float64{1, 2}, Hi: []float64{4}}}},
		"infinite": {Lines: []Line{{Points: []Point{{T: time.Unix(0, 0), V: math.Inf(1)}, {T: time.Unix(9, 0), V: 1}}}}},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Text(&buf, c, 1, 1); err != nil {
				t.Fatal(err)
			}
			var pbuf bytes.Buffer
			if err := PNG(&pbuf, c, 100, 80); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPNG(t *testing.T) {
	var buf bytes.Buffer
	c := sample()
	if err := PNG(&buf, c, 400, 200); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 200 {
		t.Fatalf("size %v, want 400x200", b)
	}
	// The band's fill colour must appear, and the history's line colour.
	band := color.RGBA{0xc6, 0xdb, 0xef, 0xff}
	line := color.RGBA{0x33, 0x33, 0x33, 0xff}
	var nBand, nLine int
	for y := 0; y < 200; y++ {
		for x := 0; x < 400; x++ {
			switch color.RGBAModel.Convert(img.At(x, y)) {
			case band:
				nBand++
			case line:
				nLine++
			}
		}
	}
	if nBand < 200 || nLine < 50 {
		t.Errorf("%d band pixels and %d history pixels: want a shaded band and a line", nBand, nLine)
	}
}

func TestPNGSize(t *testing.T) {
	for _, wh := range [][2]int{{0, 100}, {100, 10}, {MaxPNGSize + 1, 100}} {
		if err := PNG(&bytes.Buffer{}, sample(), wh[0], wh[1]); err == nil {
			t.Errorf("size %v accepted", wh)
		}
	}
}

func TestFormatValue(t *testing.T) {
	tests := map[float64]string{0: "0", 1.5: "1.5", 3333: "3333", 12345: "12.3k", -2.5e6: "-2.5M", 3e9: "3G", 0.0123: "0.0123", 0.000123: "0.000123", 2e13: "2e+13"}
	for in, want := range tests {
		if got := FormatValue(in); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkPNG(b *testing.B) {
	c := sample()
	for i := 0; i < b.N; i++ {
		if err := PNG(&bytes.Buffer{}, c, 1000, 400); err != nil {
			b.Fatal(err)
		}
	}
}
