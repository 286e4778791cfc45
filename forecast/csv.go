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

// ErrUnordered is matched (beside ErrBadCSV) by the error of a strict read
// that met a row out of time order or a repeated timestamp: a caller may
// offer to read again with CSVOptions.Unordered.
var ErrUnordered = errors.New("rows out of time order")

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

// CSVOptions tune ReadCSVWith. The zero value is the strict reader a
// person's file deserves: every row must come after the one before it.
type CSVOptions struct {
	// MaxRows bounds how many points are read; more is an error rather
	// than a silent cut. <= 0 means DefaultMaxCSVRows.
	MaxRows int
	// Unordered accepts rows out of time order and repeated timestamps:
	// the points are sorted by time and, of rows with the same timestamp,
	// the last one wins. It exists for archived corpora whose quirks are
	// known and accepted (NAB repeats and steps back over clock changes);
	// left false, either is an error naming the line and both timestamps,
	// so that no row is dropped or replaced unseen.
	Unordered bool
}

// DefaultCSVOptions returns the strict reader's options.
func DefaultCSVOptions() CSVOptions { return CSVOptions{MaxRows: DefaultMaxCSVRows} }

// ReadCSV reads a NAB data file the way the forecast benchmarks need:
// ReadCSVWith with Unordered set, since the corpus has rows out of order
// and repeated timestamps that the benchmark accepts. Files from users
// belong to ReadCSVWith with the default, strict options.
func ReadCSV(r io.Reader, maxRows int) ([]telemetry.Point, error) {
	return ReadCSVWith(r, CSVOptions{MaxRows: maxRows, Unordered: true})
}

// ReadCSVWith reads a series of timestamp,value rows, as in the NAB corpus:
// an optional header line, then one point per line. Timestamps are
// "2006-01-02 15:04:05" (UTC), RFC 3339, or Unix seconds (milliseconds when
// above 1e11). Blank lines are skipped.
//
// A header's column names choose the columns: "timestamp" (or "time") and
// "value", in any order and among other columns; without a header, or
// without those names, the first column is the time and the second the
// value. Every row must have as many fields as the header (or, without
// one, as the first row): a row with more or fewer is an error rather than
// a value quietly ignored. Fields are split at every comma; quotes around
// a field are removed, so a quoted field cannot hold a comma.
func ReadCSVWith(r io.Reader, o CSVOptions) ([]telemetry.Point, error) {
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxCSVRows
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxCSVLine)
	var (
		pts       []telemetry.Point
		fields    []string
		line      int
		nfields   int // fields a row must have; 0 until the first line
		shapeLine int // the line that set nfields
		header    bool
		ti, vi    = 0, 1 // columns of the time and the value
		prevTS    string // the previous row's timestamp as written
		prevLine  int
		unordered bool
	)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" {
			continue
		}
		fields = splitFields(fields[:0], text)
		if len(fields) < 2 {
			return nil, fmt.Errorf("%w: line %d: want timestamp,value, got %q", ErrBadCSV, line, clip(text))
		}
		if nfields == 0 {
			nfields, shapeLine = len(fields), line
			_, terr := parseTime(fields[0])
			_, verr := strconv.ParseFloat(fields[1], 64)
			if terr != nil && verr != nil {
				// Names, not data; only on the first line.
				header = true
				ti, vi = columnsByName(fields)
				continue
			}
		}
		if len(fields) != nfields {
			what := "the first row (line %d)"
			if header {
				what = "the header (line %d)"
			}
			return nil, fmt.Errorf("%w: line %d: %d fields where "+what+" has %d; every row must have the same columns",
				ErrBadCSV, line, len(fields), shapeLine, nfields)
		}
		ts, vs := fields[ti], fields[vi]
		t, err := parseTime(ts)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: timestamp %q: %v", ErrBadCSV, line, clip(ts), err)
		}
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: line %d: value %q is not a finite number", ErrBadCSV, line, clip(vs))
		}
		if n := len(pts); n > 0 && t <= pts[n-1].T {
			if !o.Unordered {
				return nil, fmt.Errorf("%w: %w: line %d: timestamp %s is not after the previous row's %s (line %d); rows must be in time order, each timestamp once",
					ErrBadCSV, ErrUnordered, line, clip(ts), clip(prevTS), prevLine)
			}
			unordered = true
		}
		if len(pts) == o.MaxRows {
			return nil, fmt.Errorf("%w: more than %d rows", ErrBadCSV, o.MaxRows)
		}
		pts = append(pts, telemetry.Point{T: t, V: v})
		prevTS, prevLine = ts, line
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

// splitFields appends the comma-separated fields of text to dst, trimmed
// and unquoted. Reusing dst keeps a row from allocating.
func splitFields(dst []string, text string) []string {
	for {
		f, rest, more := strings.Cut(text, ",")
		dst = append(dst, unquote(f))
		if !more {
			return dst
		}
		text = rest
	}
}

// columnsByName picks the time and value columns from a header's names:
// "timestamp" or "time", and "value". A two-column header naming only one
// of them gives the other column to the other; anything else falls back
// to time first, value second.
func columnsByName(names []string) (ti, vi int) {
	ti, vi = -1, -1
	for i, n := range names {
		switch strings.ToLower(n) {
		case "timestamp", "time":
			if ti < 0 {
				ti = i
			}
		case "value":
			if vi < 0 {
				vi = i
			}
		}
	}
	switch {
	case ti >= 0 && vi >= 0:
		return ti, vi
	case len(names) == 2 && ti >= 0:
		return ti, 1 - ti
	case len(names) == 2 && vi >= 0:
		return 1 - vi, vi
	}
	return 0, 1
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
