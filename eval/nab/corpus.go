package nab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits that keep a malformed or hostile input from exhausting memory.
const (
	maxRows      = 5_000_000
	maxLineBytes = 4096
)

// ReadCSV reads a NAB data file: a header "timestamp,value" (the column
// order may differ; other columns are ignored) and one row per line. Rows
// are kept in file order: a few NAB files repeat or step back in time (a
// daylight-saving change), and NAB locates windows by the first row with a
// timestamp, so order is not enforced.
func ReadCSV(r io.Reader) ([]Row, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLineBytes)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
		}
		return nil, fmt.Errorf("%w: empty file, want header timestamp,value", ErrFormat)
	}
	header := splitCSV(strings.TrimPrefix(sc.Text(), "\ufeff"))
	ti, vi := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(h) {
		case "timestamp":
			ti = i
		case "value":
			vi = i
		}
	}
	if ti < 0 || vi < 0 {
		return nil, fmt.Errorf("%w: header %q lacks timestamp and value columns", ErrFormat, sc.Text())
	}
	need := max(ti, vi) + 1
	var rows []Row
	line := 1
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		f := splitCSV(text)
		if len(f) < need {
			return nil, fmt.Errorf("%w: line %d: %d fields, want at least %d", ErrFormat, line, len(f), need)
		}
		t, err := ParseTime(f[ti])
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrFormat, line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(f[vi]), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: value %q is not a number", ErrFormat, line, f[vi])
		}
		if len(rows) >= maxRows {
			return nil, fmt.Errorf("%w: more than %d rows", ErrFormat, maxRows)
		}
		rows = append(rows, Row{Time: t, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrFormat, line+1, err)
	}
	return rows, nil
}

// splitCSV splits one line of NAB's simple CSV (no quoting is used by NAB,
// but a quoted field without embedded commas is accepted).
func splitCSV(s string) []string {
	f := strings.Split(strings.TrimRight(s, "\r"), ",")
	for i := range f {
		f[i] = strings.Trim(strings.TrimSpace(f[i]), `"`)
	}
	return f
}

// ParseTime parses a NAB timestamp, with or without fractional seconds.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not YYYY-MM-DD hh:mm:ss[.ffffff]", s)
	}
	return t, nil
}

// ReadWindows reads labels/combined_windows.json: an object from file name
// to a list of [start, end] timestamp pairs.
func ReadWindows(r io.Reader) (map[string][]Window, error) {
	var raw map[string][][]string
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: windows: %v", ErrFormat, err)
	}
	out := make(map[string][]Window, len(raw))
	for name, ws := range raw {
		list := make([]Window, 0, len(ws))
		for i, w := range ws {
			if len(w) != 2 {
				return nil, fmt.Errorf("%w: windows of %s: window %d has %d timestamps, want 2", ErrFormat, name, i, len(w))
			}
			s, err := ParseTime(w[0])
			if err != nil {
				return nil, fmt.Errorf("%w: windows of %s: window %d: %v", ErrFormat, name, i, err)
			}
			e, err := ParseTime(w[1])
			if err != nil {
				return nil, fmt.Errorf("%w: windows of %s: window %d: %v", ErrFormat, name, i, err)
			}
			if e.Before(s) {
				return nil, fmt.Errorf("%w: windows of %s: window %d ends before it starts", ErrFormat, name, i)
			}
			if i > 0 && !s.After(list[i-1].End) {
				return nil, fmt.Errorf("%w: windows of %s: window %d overlaps or precedes window %d", ErrFormat, name, i, i-1)
			}
			list = append(list, Window{Start: s, End: e})
		}
		out[name] = list
	}
	return out, nil
}

// ReadProfiles reads config/profiles.json ({"name":{"CostMatrix":{...}}}),
// returned in the fixed order standard, low FP, low FN, then others by name.
func ReadProfiles(r io.Reader) ([]Profile, error) {
	var raw map[string]struct {
		CostMatrix struct {
			TP *float64 `json:"tpWeight"`
			FP *float64 `json:"fpWeight"`
			FN *float64 `json:"fnWeight"`
		}
	}
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: profiles: %v", ErrFormat, err)
	}
	var out []Profile
	for name, p := range raw {
		c := p.CostMatrix
		if c.TP == nil || c.FP == nil || c.FN == nil {
			return nil, fmt.Errorf("%w: profile %s lacks tpWeight, fpWeight or fnWeight", ErrFormat, name)
		}
		out = append(out, Profile{Name: name, TP: *c.TP, FP: *c.FP, FN: *c.FN})
	}
	sortProfiles(out)
	return out, nil
}

func sortProfiles(ps []Profile) {
	rank := map[string]int{Standard: 0, LowFPRate: 1, LowFNRate: 2}
	sort.Slice(ps, func(i, j int) bool {
		ri, ok := rank[ps[i].Name]
		if !ok {
			ri = 3
		}
		rj, ok := rank[ps[j].Name]
		if !ok {
			rj = 3
		}
		if ri != rj {
			return ri < rj
		}
		return ps[i].Name < ps[j].Name
	})
}

// ReadThresholds reads config/thresholds.json: detector → profile →
// {"threshold": t, "score": s}; only the thresholds are returned.
func ReadThresholds(r io.Reader) (map[string]map[string]float64, error) {
	var raw map[string]map[string]struct {
		Threshold *float64 `json:"threshold"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 16<<20)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: thresholds: %v", ErrFormat, err)
	}
	out := make(map[string]map[string]float64, len(raw))
	for det, ps := range raw {
		out[det] = make(map[string]float64, len(ps))
		for p, v := range ps {
			if v.Threshold == nil {
				return nil, fmt.Errorf("%w: thresholds: %s/%s has no threshold", ErrFormat, det, p)
			}
			out[det][p] = *v.Threshold
		}
	}
	return out, nil
}

// Corpus is the set of series listed in the windows file, in name order.
type Corpus struct {
	Files []File
}

// Rows returns the total number of data rows.
func (c *Corpus) Rows() int {
	n := 0
	for _, f := range c.Files {
		n += len(f.Rows)
	}
	return n
}

// LoadCorpus reads DIR/labels/combined_windows.json and every data file it
// lists from DIR/data. Each window's ends must be timestamps of rows.
func LoadCorpus(dir string) (*Corpus, error) {
	b, err := os.ReadFile(filepath.Join(dir, "labels", "combined_windows.json"))
	if err != nil {
		return nil, fmt.Errorf("read windows: %w", err)
	}
	wins, err := ReadWindows(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(wins))
	for n := range wins {
		names = append(names, n)
	}
	sort.Strings(names)
	c := &Corpus{Files: make([]File, 0, len(names))}
	for _, n := range names {
		if filepath.IsAbs(n) || strings.Contains(n, "..") {
			return nil, fmt.Errorf("%w: windows name %q is not a relative path inside data/", ErrFormat, n)
		}
		fh, err := os.Open(filepath.Join(dir, "data", filepath.FromSlash(n)))
		if err != nil {
			return nil, fmt.Errorf("open data file: %w", err)
		}
		rows, err := ReadCSV(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		f := File{Name: n, Rows: rows, Windows: wins[n]}
		if _, err := f.windowIndices(); err != nil {
			return nil, err
		}
		c.Files = append(c.Files, f)
	}
	return c, nil
}

// windowIndices returns the row index of each window's start and end.
func (f *File) windowIndices() ([][2]int, error) {
	out := make([][2]int, len(f.Windows))
	for i, w := range f.Windows {
		s := f.index(w.Start)
		e := f.index(w.End)
		if s < 0 || e < 0 {
			return nil, fmt.Errorf("%w: %s: window %d [%s, %s] does not start and end on data rows",
				ErrMismatch, f.Name, i, w.Start.Format(TimeLayout), w.End.Format(TimeLayout))
		}
		out[i] = [2]int{s, e}
	}
	return out, nil
}

// index returns the first row with timestamp t, or -1.
func (f *File) index(t time.Time) int {
	for i := range f.Rows {
		if f.Rows[i].Time.Equal(t) {
			return i
		}
	}
	return -1
}

// Labels returns 1 for rows inside a window and 0 elsewhere.
func (f *File) Labels() []int {
	out := make([]int, len(f.Rows))
	idx, _ := f.windowIndices()
	for _, w := range idx {
		for i := w[0]; i <= w[1]; i++ {
			out[i] = 1
		}
	}
	return out
}
