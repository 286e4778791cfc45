// Package file tails log files matched by glob patterns and delivers each
// line as a telemetry.LogRecord (Raw only: parsing happens later, in
// logparse). It polls (no fsnotify), follows rotation by rename (the old
// file is read to its end, then the new file at the path from its start)
// and by copy-truncate (a file that shrank, or whose first bytes changed,
// is read again from the start), picks up new files that match, and
// releases deleted ones once read to their end.
//
// Invariant: a file's position is saved only after the Sink accepted every
// line before it. Delivery is at least once; across a clean Stop and Start
// (same OffsetStore) nothing is lost and nothing repeated.
//
// Crash window: after a SIGKILL, the lines that repeat are exactly those the
// Sink accepted after the last OffsetStore.Save that returned nil. Positions
// are saved right after each accepted batch, so that is the one batch
// (BatchSize lines, plus at most the rest of one 64 KiB read) whose Save
// the kill interrupted; if Saves were failing (logged, counted in
// vigil_ingest_file_errors_total{op="save"}), all batches accepted since the
// last good one. Nothing is lost to a crash: what was not accepted lies
// after the saved position. (Lines an in-process bus had accepted but not
// yet handed on die with the process; that is the bus's contract.)
//
// Limits, by the nature of the rotations: copy-truncate loses what was
// written after the tailer's last read and before the truncation (it is
// only in the copy), and while the tailer is stopped, all it had not read;
// a rename rotation while stopped is recovered if the old file is still in
// the same directory. Files are told apart by device and inode plus a hash
// of their first 1 KiB. An open file's inode cannot be reused, but while
// the tailer is stopped a file can be deleted and another created with its
// inode: if their first KiB is identical too, they look like one file.
package file

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
)

// ErrStarted is returned by Start on a tailer that is already running.
var ErrStarted = errors.New("file tailer already started")

// ErrStopped is returned by Start after Stop: a tailer does not restart.
var ErrStopped = errors.New("file tailer stopped")

// Where a file seen for the first time starts being read.
const (
	StartAtEnd       = "end"
	StartAtBeginning = "beginning"
)

// LabelFilename is the label holding the path of the file a line came from.
const LabelFilename = "filename"

// Options configure a Tailer. Zero fields take the DefaultOptions value.
type Options struct {
	// Name identifies the tailer in logs; set one per tailer when several
	// run (default "file").
	Name string
	// Include are filepath.Glob patterns of the files to tail
	// ("/var/log/app/*.log"); "**" is not supported. Required.
	Include []string
	// Exclude are filepath.Match patterns of files to leave out. A pattern
	// with a path separator is matched against the whole path, one
	// without against the base name ("*.gz").
	Exclude []string
	// Service names the emitting service. When empty, the first of the
	// labels service, service_name, job, app is used, else the file's
	// base name up to its first dot ("/var/log/payments.log" → "payments").
	Service string
	// Labels are added to every record, with filename (the path).
	Labels map[string]string
	// StartAt is where a file found at the first scan after Start, with no
	// saved position, starts being read: StartAtEnd (the default: at the
	// start of its last, unfinished line) or StartAtBeginning. Files that
	// appear later (a new file, the new file after a rotation) are always
	// read from the start: all of them was written after the tailer began.
	StartAt string
	// PollInterval is how often files are listed, checked and read.
	PollInterval time.Duration
	// MaxLineBytes bounds one line. A longer line is truncated: its first
	// MaxLineBytes bytes are delivered once the line ends, the rest is
	// skipped, and vigil_ingest_file_truncated_lines_total counts it.
	MaxLineBytes int
	// RotateWait is how long a file that was rotated away, deleted or
	// replaced is still read after it last grew: writers keep writing to
	// the old file until they reopen. After it, an unfinished last line is
	// delivered as it is and the file is closed.
	RotateWait time.Duration
	// BatchSize is the number of lines per Sink call (a batch may exceed
	// it by the lines of one read chunk).
	BatchSize int
	// Offsets keeps read positions across restarts. Nil: none are kept, and
	// every Start is a first start.
	Offsets OffsetStore
	// Sink receives the records. Required. Deliveries refused with
	// ingest.ErrBackpressure are retried with a short backoff, and the
	// files are not read meanwhile.
	Sink ingest.Sink
	// Logger and Registerer: nil means discard and do not register.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now gives the receive time stamped on records (default time.Now).
	Now func() time.Time
}

// DefaultOptions returns the defaults; Include and Sink must still be set.
func DefaultOptions() Options {
	return Options{
		Name:         "file",
		StartAt:      StartAtEnd,
		PollInterval: time.Second,
		MaxLineBytes: 256 << 10,
		RotateWait:   5 * time.Second,
		BatchSize:    512,
		Now:          time.Now,
	}
}

func (o *Options) fillDefaults() {
	d := DefaultOptions()
	if o.Name == "" {
		o.Name = d.Name
	}
	if o.StartAt == "" {
		o.StartAt = d.StartAt
	}
	if o.PollInterval == 0 {
		o.PollInterval = d.PollInterval
	}
	if o.MaxLineBytes == 0 {
		o.MaxLineBytes = d.MaxLineBytes
	}
	if o.RotateWait == 0 {
		o.RotateWait = d.RotateWait
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o Options) validate() error {
	switch {
	case o.Sink == nil:
		return errors.New("file: sink is required")
	case len(o.Include) == 0:
		return errors.New("file: no include pattern")
	case o.StartAt != StartAtEnd && o.StartAt != StartAtBeginning:
		return fmt.Errorf("file: start at %q: want %q or %q", o.StartAt, StartAtEnd, StartAtBeginning)
	case o.PollInterval < time.Millisecond:
		return fmt.Errorf("file: poll interval %v too short", o.PollInterval)
	case o.MaxLineBytes < 1:
		return fmt.Errorf("file: max line bytes %d must be positive", o.MaxLineBytes)
	case o.RotateWait < 0:
		return errors.New("file: negative rotate wait")
	case o.BatchSize < 1:
		return fmt.Errorf("file: batch size %d must be positive", o.BatchSize)
	}
	for _, p := range append(append([]string(nil), o.Include...), o.Exclude...) {
		if p == "" {
			return errors.New("file: empty pattern")
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("file: pattern %q: %w", p, err)
		}
	}
	return nil
}

// serviceLabels are the labels, in order, that name the service when
// Options.Service is empty.
var serviceLabels = []string{"service", "service_name", "job", "app"}

// serviceFor returns the service of lines read from path.
func (o *Options) serviceFor(path string) string {
	if o.Service != "" {
		return o.Service
	}
	for _, l := range serviceLabels {
		if v := o.Labels[l]; v != "" {
			return v
		}
	}
	base := filepath.Base(path)
	if i := strings.IndexByte(base, '.'); i > 0 {
		return base[:i]
	}
	return base
}

// included reports whether path matches an Include pattern and no Exclude
// pattern.
func (o *Options) included(path string) bool {
	in := false
	for _, p := range o.Include {
		if ok, _ := filepath.Match(p, path); ok {
			in = true
			break
		}
	}
	return in && !o.excluded(path)
}

func (o *Options) excluded(path string) bool {
	base := filepath.Base(path)
	for _, p := range o.Exclude {
		target := base
		if strings.ContainsRune(p, filepath.Separator) {
			target = path
		}
		if ok, _ := filepath.Match(p, target); ok {
			return true
		}
	}
	return false
}
