// Package audit keeps Vigil's remediation audit trail: an append-only log of
// JSON lines in which every entry carries the SHA-256 of the entry before it
// and of itself, written with an fsync per entry.
//
// Invariant: a line, once written, is never rewritten; changing any byte of
// any line (or removing a line other than the last ones) makes Verify fail
// at that line or the next. Removing whole lines from the end can only be
// detected against a head (Seq and Hash) kept elsewhere, which Verify
// returns for that purpose.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Sentinel errors.
var (
	// ErrTampered is returned (wrapped in a *VerifyError) when the chain
	// does not hold.
	ErrTampered = errors.New("audit log tampered")
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("audit log closed")
	// ErrTooLarge is returned for an entry whose line would exceed MaxLineBytes.
	ErrTooLarge = errors.New("audit entry too large")
)

// DefaultFileName is the log's name inside the data directory.
const DefaultFileName = "audit.jsonl"

// MaxLineBytes bounds one line, so that Verify reads with bounded memory.
const MaxLineBytes = 64 << 10

// Genesis is the Prev of the first entry: the SHA-256 of nothing.
var Genesis = hexSum(nil)

// Kind says what an entry records.
type Kind string

// Kinds of entries.
const (
	KindSuggestion   Kind = "suggestion"
	KindApprovalReq  Kind = "approval_requested"
	KindApproved     Kind = "approved"
	KindRejected     Kind = "rejected"
	KindExpired      Kind = "expired"
	KindDenied       Kind = "denied" // a guard refused
	KindExecution    Kind = "execution"
	KindVerification Kind = "verification"
	KindRollback     Kind = "rollback"
	KindEscalation   Kind = "escalation"
	KindKillSwitch   Kind = "killswitch"
)

// Entry is one audit record. Seq, Prev and Hash are set by Append.
type Entry struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     Kind      `json:"kind"`
	Actor    string    `json:"actor,omitempty"`
	Runbook  string    `json:"runbook,omitempty"`
	Approval string    `json:"approval,omitempty"`
	Incident string    `json:"incident,omitempty"`
	// Outcome is a short machine-friendly word: ok, failed, dry_run, ...
	Outcome string `json:"outcome,omitempty"`
	// Detail is free text: the rendered step, the guard's reason, ...
	Detail string            `json:"detail,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	// Prev is the hex SHA-256 of the previous entry (its Hash), Genesis for
	// the first.
	Prev string `json:"prev"`
	// Hash is the hex SHA-256 of this line's bytes up to the hash field
	// (with the object closed there): see seal.
	Hash string `json:"hash,omitempty"`
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// hashSuffixLen is len(`,"hash":"` + 64 hex + `"}`).
const hashSuffixLen = len(`,"hash":"`) + 64 + len(`"}`)

// seal encodes e (without Hash) and appends its hash. The hash covers the
// exact bytes written, not a re-encoding, so that Verify needs no canonical
// form: any changed byte changes the sum.
func seal(e *Entry) ([]byte, error) {
	e.Hash = ""
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode audit entry: %w", err)
	}
	e.Hash = hexSum(body)
	line := make([]byte, 0, len(body)+hashSuffixLen+1)
	line = append(line, body[:len(body)-1]...)
	line = append(line, `,"hash":"`...)
	line = append(line, e.Hash...)
	line = append(line, `"}`...)
	line = append(line, '\n')
	return line, nil
}

// Log is an open audit log. It is safe for concurrent use: mtx serialises
// appends, so the chain has one order.
type Log struct {
	mtx  sync.Mutex // protects f, seq, last
	f    *os.File
	seq  int64
	last string
	now  func() time.Time
}

// Options configure Open.
type Options struct {
	// Now stamps entries whose Time is zero. Defaults to time.Now.
	Now func() time.Time
}

// Open opens (creating it when absent) the log at path and verifies the
// existing chain, so that new entries extend a chain that holds. A log that
// fails verification is not opened: the error wraps ErrTampered and names
// the line.
func Open(path string, o Options) (*Log, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	rep, err := Verify(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	return &Log{f: f, seq: rep.Entries, last: rep.Head, now: o.Now}, nil
}

// Append seals e onto the chain, writes it and syncs the file before
// returning, so an action is never taken on the strength of an entry that
// could still be lost. It returns the entry as written.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	l.mtx.Lock()
	defer l.mtx.Unlock()
	if l.f == nil {
		return Entry{}, ErrClosed
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	e.Seq = l.seq + 1
	e.Prev = l.last
	line, err := seal(&e)
	if err != nil {
		return Entry{}, err
	}
	if len(line) > MaxLineBytes {
		return Entry{}, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(line), MaxLineBytes)
	}
	if _, err := l.f.Write(line); err != nil {
		return Entry{}, fmt.Errorf("write audit entry: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return Entry{}, fmt.Errorf("sync audit log: %w", err)
	}
	l.seq, l.last = e.Seq, e.Hash
	return e, nil
}

// Head returns the number of entries and the hash of the last one.
func (l *Log) Head() (int64, string) {
	l.mtx.Lock()
	defer l.mtx.Unlock()
	return l.seq, l.last
}

// Close closes the file; later appends fail with ErrClosed.
func (l *Log) Close() error {
	l.mtx.Lock()
	defer l.mtx.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Report is what Verify found in a log that holds.
type Report struct {
	// Entries is the number of entries (the last Seq).
	Entries int64 `json:"entries"`
	// Head is the hash of the last entry (Genesis for an empty log).
	Head string `json:"head"`
}

// VerifyError says where and why a chain breaks. It wraps ErrTampered.
type VerifyError struct {
	Line   int64  `json:"line"` // 1-based
	Reason string `json:"reason"`
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%s: line %d: %s", ErrTampered, e.Line, e.Reason)
}

// Unwrap makes errors.Is(err, ErrTampered) hold.
func (e *VerifyError) Unwrap() error { return ErrTampered }

// Verify reads a whole log and checks every line: that it ends with a
// newline, is within MaxLineBytes, decodes strictly as an Entry, that its
// hash is the SHA-256 of its own bytes, that Seq counts up from 1 and that
// Prev is the hash of the line before. The first failure is returned as a
// *VerifyError; I/O errors are returned as they are.
func Verify(r io.Reader) (Report, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	rep := Report{Head: Genesis}
	var lineNo int64
	for {
		line, err := readLine(br)
		if err == io.EOF && len(line) == 0 {
			return rep, nil
		}
		lineNo++
		if errors.Is(err, errLineTooLong) {
			return rep, &VerifyError{Line: lineNo, Reason: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
		}
		if err == io.EOF {
			return rep, &VerifyError{Line: lineNo, Reason: "last line has no newline (truncated or appended to)"}
		}
		if err != nil {
			return rep, fmt.Errorf("read audit log: %w", err)
		}
		e, reason := checkLine(line)
		if reason != "" {
			return rep, &VerifyError{Line: lineNo, Reason: reason}
		}
		if e.Seq != rep.Entries+1 {
			return rep, &VerifyError{Line: lineNo, Reason: fmt.Sprintf("seq %d, want %d", e.Seq, rep.Entries+1)}
		}
		if e.Prev != rep.Head {
			return rep, &VerifyError{Line: lineNo, Reason: "prev does not match the hash of the previous entry"}
		}
		rep.Entries, rep.Head = e.Seq, e.Hash
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns one line without its newline; io.EOF with a non-empty
// line means the input ended without a newline.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLineBytes+1 {
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, err
		}
	}
}

// checkLine checks one line on its own and returns its entry, or why not.
func checkLine(line []byte) (Entry, string) {
	var e Entry
	if len(line) < hashSuffixLen+2 {
		return e, "line too short to be an entry"
	}
	suffix := line[len(line)-hashSuffixLen:]
	if !bytes.HasPrefix(suffix, []byte(`,"hash":"`)) || !bytes.HasSuffix(suffix, []byte(`"}`)) {
		return e, "line does not end with the hash field"
	}
	stored := string(suffix[len(`,"hash":"`) : len(`,"hash":"`)+64])
	body := make([]byte, 0, len(line)-hashSuffixLen+1)
	body = append(body, line[:len(line)-hashSuffixLen]...)
	body = append(body, '}')
	if hexSum(body) != stored {
		return e, "hash does not match the entry's bytes"
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, "not a valid entry: " + err.Error()
	}
	if dec.More() {
		return e, "data after the entry"
	}
	if e.Hash != stored {
		// Only possible with a duplicated hash key: the decoder keeps the last.
		return e, "hash field is ambiguous"
	}
	return e, ""
}

// Verify re-reads the log's file and checks its chain, and that its head
// is the one this Log last wrote, which also catches lines removed from the
// end while the process runs. Appends wait while it reads.
func (l *Log) Verify() (Report, error) {
	l.mtx.Lock()
	defer l.mtx.Unlock()
	if l.f == nil {
		return Report{}, ErrClosed
	}
	f, err := os.Open(l.f.Name())
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	defer f.Close()
	rep, err := Verify(f)
	if err != nil {
		return rep, err
	}
	if rep.Entries != l.seq || rep.Head != l.last {
		return rep, &VerifyError{Line: rep.Entries + 1,
			Reason: fmt.Sprintf("log ends at entry %d but %d were written: entries were removed from the end", rep.Entries, l.seq)}
	}
	return rep, nil
}
