package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Errors callers branch on. They are wrapped with the folder, file or column
// concerned.
var (
	// ErrNoData means the folder is missing, unreadable or holds no system.
	ErrNoData = errors.New("no dataset")
	// ErrMissingColumn means a structured CSV lacks a column the harness needs.
	ErrMissingColumn = errors.New("missing column")
	// ErrBadCSV means a structured CSV could not be parsed.
	ErrBadCSV = errors.New("malformed CSV")
)

// Column names of a Loghub structured CSV.
const (
	colContent  = "Content"
	colTemplate = "EventTemplate"
)

// structuredSuffix ends the name of a Loghub structured CSV
// (<Sys>_2k.log_structured.csv).
const structuredSuffix = ".log_structured.csv"

// Dataset is one labelled system: the message bodies and, line by line,
// their ground-truth templates.
type Dataset struct {
	Name    string   // system name: the subfolder, e.g. "HDFS"
	Path    string   // the structured CSV it was read from
	Content []string // parser input, one message body per line
	Truth   []string // ground-truth EventTemplate, same length as Content
}

// FindSystems lists the systems of a Loghub-2k style folder: every subfolder
// that holds a <Sys>*.log_structured.csv, sorted by name. Subfolders without
// one are skipped; a folder with none at all is ErrNoData.
func FindSystems(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoData, err)
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		p, err := structuredCSV(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if p != "" {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no <System>/<System>_2k%s under %s", ErrNoData, structuredSuffix, dir)
	}
	sort.Strings(paths)
	return paths, nil
}

// structuredCSV picks the structured CSV of one system folder: the only
// *.log_structured.csv, or <Sys>_2k.log_structured.csv when there are
// several. It returns "" when there is none.
func structuredCSV(sysDir string) (string, error) {
	entries, err := os.ReadDir(sysDir)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoData, err)
	}
	var found []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), structuredSuffix) {
			found = append(found, e.Name())
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return filepath.Join(sysDir, found[0]), nil
	}
	want := filepath.Base(sysDir) + "_2k" + structuredSuffix
	for _, f := range found {
		if f == want {
			return filepath.Join(sysDir, f), nil
		}
	}
	return "", fmt.Errorf("%w: %s holds several structured CSVs (%s) and no %s",
		ErrNoData, sysDir, strings.Join(found, ", "), want)
}

// LoadDataset reads a Loghub structured CSV (quoted fields as written by
// pandas). The system name is the file's folder.
func LoadDataset(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoData, err)
	}
	defer f.Close()
	ds, err := readDataset(f, path)
	if err != nil {
		return nil, err
	}
	ds.Name = filepath.Base(filepath.Dir(path))
	return ds, nil
}

func readDataset(r io.Reader, path string) (*Dataset, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s is empty", ErrNoData, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadCSV, path, err)
	}
	ci, ti := -1, -1
	for i, h := range header {
		switch strings.TrimPrefix(strings.TrimSpace(h), "\ufeff") {
		case colContent:
			ci = i
		case colTemplate:
			ti = i
		}
	}
	if ci < 0 {
		return nil, fmt.Errorf("%w: %s has no %q column", ErrMissingColumn, path, colContent)
	}
	if ti < 0 {
		return nil, fmt.Errorf("%w: %s has no %q column", ErrMissingColumn, path, colTemplate)
	}
	ds := &Dataset{Path: path}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadCSV, path, err)
		}
		if len(rec) != len(header) {
			line, _ := cr.FieldPos(0)
			return nil, fmt.Errorf("%w: %s:%d: %d fields, header has %d", ErrBadCSV, path, line, len(rec), len(header))
		}
		ds.Content = append(ds.Content, rec[ci])
		ds.Truth = append(ds.Truth, rec[ti])
	}
	if len(ds.Content) == 0 {
		return nil, fmt.Errorf("%w: %s has a header and no rows", ErrNoData, path)
	}
	return ds, nil
}
