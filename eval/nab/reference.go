package nab

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ReadScoresJSON reads anomaly scores in the layout of the datasets'
// reference_scores files: {"<category>/<file>.csv": ["<score>", ...]},
// scores as strings (as in NAB result CSVs) or as numbers.
func ReadScoresJSON(r io.Reader) (Scores, error) {
	var raw map[string][]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r, 512<<20)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: scores: %v", ErrFormat, err)
	}
	out := make(Scores, len(raw))
	for name, list := range raw {
		vs := make([]float64, len(list))
		for i, m := range list {
			s := strings.TrimSpace(string(m))
			if strings.HasPrefix(s, `"`) {
				if err := json.Unmarshal(m, &s); err != nil {
					return nil, fmt.Errorf("%w: scores of %s, row %d: %v", ErrFormat, name, i, err)
				}
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || v != v {
				return nil, fmt.Errorf("%w: scores of %s, row %d: %q is not a number", ErrFormat, name, i, s)
			}
			vs[i] = v
		}
		out[name] = vs
	}
	return out, nil
}

// LoadScoresFile reads a scores JSON file, gunzipping it when its name ends
// in .gz.
func LoadScoresFile(path string) (Scores, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open scores: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	s, err := ReadScoresJSON(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return s, nil
}
