package eval

// This file is the log anomaly harness: DeepLog's HDFS block benchmark.
// Sessions are HDFS blocks, events are template ids; the model learns from
// the normal sessions of the training split only and judges every session
// of the test split. Labels of the test split are read for scoring alone.

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilops/vigil/detect"
)

// Files the HDFS harness reads.
const (
	// HDFSSessionsCSV is the sessions table (BlockId,Label,Split,EventIdSequence).
	HDFSSessionsCSV = "HDFS_100k.sessions.csv"
	// DeepLog-format files: one session of space-separated keys per line.
	deepLogTrain    = "hdfs_train"
	deepLogNormal   = "hdfs_test_normal"
	deepLogAbnormal = "hdfs_test_abnormal"
)

// Column names of the sessions CSV.
const (
	colBlockID  = "BlockId"
	colLabel    = "Label"
	colSplit    = "Split"
	colSequence = "EventIdSequence"
)

// ErrBadSession means a session line or row could not be read.
var ErrBadSession = errors.New("malformed session")

// Session is one labelled sequence of event keys.
type Session struct {
	ID        string   // block id, or file:line
	Events    []string // event keys in log order
	Anomalous bool     // ground truth, used for scoring only
	Train     bool     // in the training split
}

// Confusion counts the verdicts on labelled sessions; anomalous is the
// positive class.
type Confusion struct {
	TP, FP, FN, TN int
}

// Precision is TP/(TP+FP), 0 when nothing was flagged.
func (c Confusion) Precision() float64 {
	if c.TP+c.FP == 0 {
		return 0
	}
	return float64(c.TP) / float64(c.TP+c.FP)
}

// Recall is TP/(TP+FN), 0 when there is nothing to find.
func (c Confusion) Recall() float64 {
	if c.TP+c.FN == 0 {
		return 0
	}
	return float64(c.TP) / float64(c.TP+c.FN)
}

// F1 is the harmonic mean of precision and recall, 0 when both are 0.
func (c Confusion) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// Add counts one verdict.
func (c *Confusion) Add(truth, predicted bool) {
	switch {
	case truth && predicted:
		c.TP++
	case truth:
		c.FN++
	case predicted:
		c.FP++
	default:
		c.TN++
	}
}

// HDFSReport is the outcome of one HDFS run.
type HDFSReport struct {
	Source string // the file(s) read
	Confusion
	Precision, Recall, F1 float64
	TrainNormal           int // sessions trained on
	TrainSkipped          int // anomalous training sessions left out
	TestNormal            int
	TestAnomalous         int
	Model                 detect.SequenceOptions
	ScoreTime             time.Duration // scoring the test split alone
	// Examples are a few flagged test sessions with the model's reason.
	Examples []string
	// Bound is the ceiling of any detector that sees only the event
	// sequence, computed from the test labels (see SequenceF1Bound).
	Bound SequenceBound
}

// HDFSEval trains a SequenceModel with options o on the normal training
// sessions found at path and scores the test sessions. path is a folder
// holding HDFS_100k.sessions.csv or the DeepLog files hdfs_train,
// hdfs_test_normal, hdfs_test_abnormal, or the sessions CSV itself.
func HDFSEval(ctx context.Context, path string, o detect.SequenceOptions) (*HDFSReport, error) {
	sessions, source, err := LoadHDFS(path)
	if err != nil {
		return nil, err
	}
	return ScoreSessions(ctx, sessions, source, o)
}

// ScoreSessions trains on the normal sessions marked Train and scores the
// others.
func ScoreSessions(ctx context.Context, sessions []Session, source string, o detect.SequenceOptions) (*HDFSReport, error) {
	m := detect.NewSequenceModel(o)
	rep := &HDFSReport{Source: source, Model: o}
	for _, s := range sessions {
		if !s.Train {
			continue
		}
		if s.Anomalous {
			rep.TrainSkipped++
			continue
		}
		m.Train(s.Events)
		rep.TrainNormal++
	}
	if rep.TrainNormal == 0 {
		return nil, fmt.Errorf("%w: %s has no normal training session", ErrNoData, source)
	}
	start := time.Now()
	for i, s := range sessions {
		if s.Train {
			continue
		}
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if s.Anomalous {
			rep.TestAnomalous++
		} else {
			rep.TestNormal++
		}
		r := m.Score(s.Events)
		rep.Add(s.Anomalous, r.Anomalous)
		if r.Anomalous && len(rep.Examples) < 5 {
			rep.Examples = append(rep.Examples, s.ID+": "+r.Reason)
		}
	}
	rep.ScoreTime = time.Since(start)
	if rep.TestNormal+rep.TestAnomalous == 0 {
		return nil, fmt.Errorf("%w: %s has no test session", ErrNoData, source)
	}
	rep.Precision, rep.Recall, rep.F1 = rep.Confusion.Precision(), rep.Confusion.Recall(), rep.Confusion.F1()
	rep.Bound = SequenceF1Bound(sessions)
	return rep, nil
}

// LoadHDFS reads labelled sessions from a sessions CSV, a folder holding
// one, or a folder of DeepLog-format files. It returns the sessions and a
// description of their source.
func LoadHDFS(path string) ([]Session, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrNoData, err)
	}
	if !fi.IsDir() {
		ss, err := loadSessionsCSV(path)
		return ss, path, err
	}
	csvPath := filepath.Join(path, HDFSSessionsCSV)
	if _, err := os.Stat(csvPath); err == nil {
		ss, err := loadSessionsCSV(csvPath)
		return ss, csvPath, err
	}
	train := filepath.Join(path, deepLogTrain)
	if _, err := os.Stat(train); err != nil {
		return nil, "", fmt.Errorf("%w: %s holds neither %s nor the DeepLog files %s, %s, %s",
			ErrNoData, path, HDFSSessionsCSV, deepLogTrain, deepLogNormal, deepLogAbnormal)
	}
	var all []Session
	var used []string
	for _, f := range []struct {
		name             string
		train, anomalous bool
	}{{deepLogTrain, true, false}, {deepLogNormal, false, false}, {deepLogAbnormal, false, true}} {
		p := filepath.Join(path, f.name)
		fh, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) && !f.train {
			continue // a test file may be absent
		}
		if err != nil {
			return nil, "", fmt.Errorf("%w: %v", ErrNoData, err)
		}
		seqs, err := ReadDeepLogSessions(fh)
		fh.Close()
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", p, err)
		}
		for i, s := range seqs {
			all = append(all, Session{ID: fmt.Sprintf("%s:%d", f.name, i+1), Events: s, Anomalous: f.anomalous, Train: f.train})
		}
		used = append(used, p)
	}
	return all, strings.Join(used, ", "), nil
}

// maxSessionLine bounds one line of a DeepLog file.
const maxSessionLine = 64 << 20

// ReadDeepLogSessions reads DeepLog-format sessions: one per line, event
// keys separated by white space. Blank lines are skipped. A line holding a
// NUL byte or longer than 64 MiB is ErrBadSession, with its line number.
func ReadDeepLogSessions(r io.Reader) ([][]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxSessionLine)
	var out [][]string
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.IndexByte(text, 0) >= 0 {
			return nil, fmt.Errorf("%w: line %d holds a NUL byte (binary file?)", ErrBadSession, line)
		}
		keys := strings.Fields(text)
		if len(keys) == 0 {
			continue
		}
		out = append(out, keys)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: after line %d: %v", ErrBadSession, line, err)
	}
	return out, nil
}

// parseEventSequence splits an EventIdSequence cell. It accepts the
// space-separated form of HDFS_100k.sessions.csv ("E5 E22 E11") and the
// Python-list form of Loghub's Event_traces.csv ("[E5,E22,E11]" or
// "['E5', 'E22']").
func parseEventSequence(cell string) []string {
	cell = strings.TrimSpace(cell)
	cell = strings.TrimPrefix(cell, "[")
	cell = strings.TrimSuffix(cell, "]")
	return strings.FieldsFunc(cell, func(r rune) bool {
		switch r {
		case ' ', '\t', ',', ';', '\'', '"', '\r', '\n':
			return true
		}
		return false
	})
}

// parseLabel reads a Label cell: 0/1, or Normal/Anomaly as in Loghub's
// anomaly_label.csv.
func parseLabel(cell string) (anomalous bool, ok bool) {
	switch strings.ToLower(strings.TrimSpace(cell)) {
	case "0", "normal", "false":
		return false, true
	case "1", "anomaly", "anomalous", "abnormal", "true":
		return true, true
	}
	return false, false
}

func loadSessionsCSV(path string) ([]Session, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoData, err)
	}
	defer f.Close()
	return readSessionsCSV(f, path)
}

func readSessionsCSV(r io.Reader, path string) ([]Session, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s is empty", ErrNoData, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadCSV, path, err)
	}
	col := map[string]int{colBlockID: -1, colLabel: -1, colSplit: -1, colSequence: -1}
	for i, h := range header {
		h = strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")
		if _, ok := col[h]; ok {
			col[h] = i
		}
	}
	for _, c := range []string{colLabel, colSplit, colSequence} {
		if col[c] < 0 {
			return nil, fmt.Errorf("%w: %s has no %q column", ErrMissingColumn, path, c)
		}
	}
	var out []Session
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadCSV, path, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%w: %s:%d: %d fields, header has %d", ErrBadCSV, path, line, len(rec), len(header))
		}
		anom, ok := parseLabel(rec[col[colLabel]])
		if !ok {
			return nil, fmt.Errorf("%w: %s:%d: column %s: %q is not 0/1 or Normal/Anomaly", ErrBadSession, path, line, colLabel, rec[col[colLabel]])
		}
		var train bool
		switch strings.ToLower(strings.TrimSpace(rec[col[colSplit]])) {
		case "train":
			train = true
		case "test":
		default:
			return nil, fmt.Errorf("%w: %s:%d: column %s: %q is not train or test", ErrBadSession, path, line, colSplit, rec[col[colSplit]])
		}
		id := fmt.Sprintf("%s:%d", filepath.Base(path), line)
		if i := col[colBlockID]; i >= 0 && rec[i] != "" {
			id = rec[i]
		}
		out = append(out, Session{ID: id, Events: parseEventSequence(rec[col[colSequence]]), Anomalous: anom, Train: train})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has a header and no rows", ErrNoData, path)
	}
	return out, nil
}
