package rca

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/telemetry"
)

// table is a CSV file read whole: a header and rows of raw cells.
type table struct {
	header []string
	rows   [][]string
}

// readTable parses CSV with a header row, tolerating ragged rows (cells
// past the header are dropped, missing ones read as empty), bounded in rows
// and columns.
func readTable(data []byte, name string) (*table, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w: empty file", name, ErrLayout)
		}
		return nil, fmt.Errorf("%s: read header: %w", name, err)
	}
	if len(header) > maxColumns {
		return nil, fmt.Errorf("%s: %w: %d columns is over the %d limit", name, ErrLayout, len(header), maxColumns)
	}
	t := &table{header: header}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(t.rows) >= maxRows {
			return nil, fmt.Errorf("%s: %w: more than %d rows", name, ErrLayout, maxRows)
		}
		if len(rec) > len(header) {
			rec = rec[:len(header)]
		}
		t.rows = append(t.rows, rec)
	}
	return t, nil
}

func (t *table) col(name string) int {
	for i, h := range t.header {
		if strings.TrimSpace(h) == name {
			return i
		}
	}
	return -1
}

func (t *table) cell(row []string, i int) string {
	if i < 0 || i >= len(row) {
		return ""
	}
	return strings.TrimSpace(row[i])
}

// parseFloat reads a cell; empty and unparseable cells are NaN (missing).
func parseFloat(s string) float64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// unixMilli converts a unix time in seconds (possibly fractional) to ms;
// ok is false for a missing or absurd value.
func unixMilli(s string) (int64, bool) {
	v := parseFloat(s)
	if math.IsNaN(v) || v < 0 || v > 1e11 {
		return 0, false
	}
	return int64(math.Round(v * 1000)), true
}

// seriesSet accumulates points per (service, name) in insertion order.
type seriesSet struct {
	idx map[[2]string]int
	out []diagnose.Series
}

func newSeriesSet() *seriesSet { return &seriesSet{idx: map[[2]string]int{}} }

func (s *seriesSet) add(svc, name string, kind diagnose.Kind, t int64, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	k := [2]string{svc, name}
	i, ok := s.idx[k]
	if !ok {
		i = len(s.out)
		s.idx[k] = i
		s.out = append(s.out, diagnose.Series{Service: svc, Name: name, Kind: kind})
	}
	s.out[i].Points = append(s.out[i].Points, telemetry.Point{T: t, V: v})
}

// span returns the window from the first to just after the last time.
func span(ts []int64, step time.Duration) diagnose.Window {
	if len(ts) == 0 {
		return diagnose.Window{}
	}
	lo, hi := ts[0], ts[0]
	for _, t := range ts {
		lo, hi = min(lo, t), max(hi, t)
	}
	return diagnose.Window{Start: time.UnixMilli(lo).UTC(), End: time.UnixMilli(hi).Add(step).UTC()}
}

// slice returns copies of ss holding only points inside [from, to).
func slice(ss []diagnose.Series, from, to time.Time) []diagnose.Series {
	lo, hi := from.UnixMilli(), to.UnixMilli()
	out := make([]diagnose.Series, 0, len(ss))
	for _, s := range ss {
		var pts []telemetry.Point
		for _, p := range s.Points {
			if p.T >= lo && p.T < hi {
				pts = append(pts, p)
			}
		}
		if len(pts) > 0 {
			s.Points = pts
			out = append(out, s)
		}
	}
	return out
}

// cut returns copies of ss without the points inside [from, to).
func cut(ss []diagnose.Series, from, to time.Time) []diagnose.Series {
	lo, hi := from.UnixMilli(), to.UnixMilli()
	out := make([]diagnose.Series, 0, len(ss))
	for _, s := range ss {
		pts := make([]telemetry.Point, 0, len(s.Points))
		for _, p := range s.Points {
			if p.T < lo || p.T >= hi {
				pts = append(pts, p)
			}
		}
		s.Points = pts
		out = append(out, s)
	}
	return out
}

// dataStart is the earliest point of any series.
func dataStart(ss []diagnose.Series) time.Time {
	first := int64(math.MaxInt64)
	for _, s := range ss {
		for _, p := range s.Points {
			first = min(first, p.T)
		}
	}
	return time.UnixMilli(first).UTC()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
