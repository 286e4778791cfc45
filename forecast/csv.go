package forecast

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// ErrBadCSV is returned by ReadCSV for input it cannot read as a series.
var ErrBadCSV = errors.New("bad csv")

// DefaultMaxCSVRows bounds ReadCSV when its caller gives no bound.
const DefaultMaxCSVRows = 5_000_000

// maxCSVLine bounds one line, so that a file without newlines cannot take
// all memory.
const maxCSVLine = 64 << 10

// timeLayouts are the timestamp forms ReadCSV accepts, NAB's first.
var timeLayouts = []string{
	"2006-01-02 15:04:05",
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
}

// ReadCSV reads a two-column series, timestamp,value, as in the NAB corpus:
// an optional header line, then one point per line. Timestamps are
// "2006-01-02 15:04:05" (UTC), RFC 3339, or Unix seconds (milliseconds when
// above 1e11). Blank lines are skipped; extra columns are ignored.
// Real exports repeat or step back over a clock change (NAB has both): the
// points are returned sorted by time, and of rows with the same timestamp
// the last one wins. At most maxRows points are read (<= 0:
// DefaultMaxCSVRows); more is an error rather than a silent cut.
func ReadCSV(r io.Reader, maxRows int) ([]telemetry.Point, error) {
	if maxRows <= 0 {
		maxRows = DefaultMaxCSVRows
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxCSVLine)
	var pts []telemetry.Point
	line := 0
	header := false
	unordered := false
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" {
			continue
		}
		ts, vs, ok := strings.Cut(text, ",")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: want timestamp,value, got %q", ErrBadCSV, line, clip(text))
		}
		vs, _, _ = strings.Cut(vs, ",")
		ts, vs = unquote(ts), unquote(vs)
		t, terr := parseTime(ts)
		v, verr := strconv.ParseFloat(vs, 64)
		if len(pts) == 0 && !header && terr != nil && verr != nil {
			header = true // names, not data; only before the first point
			continue
		}
		if terr != nil {
			return nil, fmt.Errorf("%w: line %d: timestamp %q: %v", ErrBadCSV, line, clip(ts), terr)
		}
		if verr != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: line %d: value %q is not a finite number", ErrBadCSV, line, clip(vs))
		}
		if n := len(pts); n > 0 && t <= pts[n-1].T {
			unordered = true
		}
		if len(pts) == maxRows {
			return nil, fmt.Errorf("%w: more than %d rows", ErrBadCSV, maxRows)
		}
		pts = append(pts, telemetry.Point{T: t, V: v})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: line %d longer than %d bytes", ErrBadCSV, line+1, maxCSVLine)
		}
		return nil, fmt.Errorf("read csv: %w", err)
	}
	if len(pts) == 0 {
		return nil, fmt.Errorf("%w: no data rows", ErrBadCSV)
	}
	if unordered {
		pts = sortDedup(pts)
	}
	return pts, nil
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

// parseTime reads one timestamp into Unix milliseconds.
func parseTime(s string) (int64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e16 {
			return 0, errors.New("out of range")
		}
		if math.Abs(f) > 1e11 {
			return int64(f), nil
		}
		return int64(math.Round(f * 1000)), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, errors.New(`want "2006-01-02 15:04:05", RFC 3339 or Unix seconds`)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// sortDedup sorts points by time, keeping the last of equal timestamps.
func sortDedup(pts []telemetry.Point) []telemetry.Point {
	slices.SortStableFunc(pts, func(a, b telemetry.Point) int { return cmp.Compare(a.T, b.T) })
	out := pts[:0]
	for _, p := range pts {
		if n := len(out); n > 0 && out[n-1].T == p.T {
			out[n-1] = p
			continue
		}
		out = append(out, p)
	}
	return out
}
