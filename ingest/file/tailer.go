package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

var _ ingest.Receiver = (*Tailer)(nil)

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// readChunk is the size of one read; readBudget bounds what one file may
// read in one poll before the others get their turn (the next poll then
// follows at once).
const (
	readChunk  = 64 << 10
	readBudget = 4 << 20
)

// fileKey identifies a file: device and inode. The zero key means unknown.
type fileKey struct{ dev, ino uint64 }

func (k fileKey) known() bool { return k != fileKey{} }

// tailed is one open file.
type tailed struct {
	path    string // where it is now, the key its position is saved under
	labels  telemetry.Labels
	service string
	f       *os.File
	id      fileKey
	fp      fingerprint
	size    int64 // as last seen
	// read is the offset of the next byte to read; committed is just past
	// the last line the Sink accepted. Bytes in between are in split or in
	// the batch being delivered.
	read, committed int64
	// gen counts truncations: a line read before one cannot commit a
	// position after it.
	gen   int
	split lineSplitter
	// rotated: no longer at a tailed path (renamed away, deleted,
	// replaced). It is read to its end, then released.
	rotated bool
	// persist: its position is saved (false for a rotated file whose new
	// name is unknown: there is nothing to find it by after a restart).
	persist bool
	// grewAt is when it last grew or was rotated; RotateWait counts from it.
	grewAt time.Time
	// finished: its final line is in the batch; release once committed.
	finished bool
}

// mark is how far a batch's lines reach in one file.
type mark struct {
	gen int
	end int64
}

// Tailer follows the files matched by its Include patterns.
type Tailer struct {
	opts Options
	log  *slog.Logger
	m    *metrics

	mtx    sync.Mutex // protects state
	state  int
	stop   chan struct{} // closed by Stop
	done   chan struct{} // closed when run returns
	cancel context.CancelFunc

	// The fields below belong to Start until it starts run, to run while
	// it runs, and to Stop after run returned; never to two at once.
	files  []*tailed
	byPath map[string]*tailed  // active files by path
	byID   map[fileKey]*tailed // every open file with a known key
	// saved holds positions loaded at Start not yet matched to a file and
	// known the paths that had one; both serve the first scan only.
	saved map[string]Offset
	known map[string]bool
	first bool
	batch []telemetry.LogRecord
	marks map[*tailed]mark
	cur   *tailed   // the file emitLine adds lines of
	now   time.Time // receive time of the current poll
	emit  emitFunc  // emitLine, bound once
	// openFailed holds paths whose open failed, logged once.
	openFailed map[string]bool
	dirty      bool // positions changed since the last save
	more       bool // a file used its read budget: poll again at once
	buf        []byte
}

// New returns a Tailer; nothing is read until Start.
func New(o Options) (*Tailer, error) {
	o.fillDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer, o.Name)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	t := &Tailer{
		opts:       o,
		log:        o.Logger.With("tailer", o.Name),
		m:          m,
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		byPath:     make(map[string]*tailed),
		byID:       make(map[fileKey]*tailed),
		marks:      make(map[*tailed]mark),
		openFailed: make(map[string]bool),
		buf:        make([]byte, readChunk),
	}
	t.emit = t.emitLine
	return t, nil
}

// Name implements ingest.Receiver.
func (t *Tailer) Name() string { return t.opts.Name }

// Start loads the saved positions, lists and opens the matching files
// (this first scan is what StartAt applies to) and tails them in the
// background. ctx bounds only the start; the tailer runs until Stop.
func (t *Tailer) Start(ctx context.Context) error {
	t.mtx.Lock()
	defer t.mtx.Unlock()
	switch t.state {
	case stateRunning:
		return ErrStarted
	case stateStopped:
		return ErrStopped
	}
	t.saved = map[string]Offset{}
	if t.opts.Offsets != nil {
		saved, err := t.opts.Offsets.Load(ctx)
		if err != nil {
			return fmt.Errorf("start %s: %w", t.opts.Name, err)
		}
		t.saved = saved
	}
	t.known = make(map[string]bool, len(t.saved))
	for p := range t.saved {
		t.known[p] = true
	}
	t.first = true
	t.now = t.opts.Now()
	t.discover(t.now)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.cancel = cancel
	t.state = stateRunning
	go t.run(runCtx)
	return nil
}

// Stop ends tailing: the poll in progress finishes delivering what it read
// (until ctx is done; lines not delivered are read again after a restart),
// positions are saved and files closed.
func (t *Tailer) Stop(ctx context.Context) error {
	t.mtx.Lock()
	if t.state != stateRunning {
		t.state = stateStopped
		t.mtx.Unlock()
		return nil
	}
	t.state = stateStopped
	t.mtx.Unlock()
	close(t.stop)
	var err error
	select {
	case <-t.done:
	case <-ctx.Done():
		err = ctx.Err()
		t.cancel()
		<-t.done
	}
	if t.dirty {
		sctx := ctx
		if ctx.Err() != nil {
			// A last save is worth a moment even past the deadline: it
			// spares the next start re-reading what was delivered.
			var cancel context.CancelFunc
			sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
		}
		err = errors.Join(err, t.save(sctx))
	}
	for _, tf := range t.files {
		tf.f.Close()
	}
	t.files = nil
	t.m.files.Set(0)
	t.cancel()
	return err
}

func (t *Tailer) run(ctx context.Context) {
	defer close(t.done)
	tick := time.NewTicker(t.opts.PollInterval)
	defer tick.Stop()
	for {
		t.poll(ctx)
		if t.stopping() || ctx.Err() != nil {
			return
		}
		if t.more {
			continue
		}
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
	}
}

func (t *Tailer) stopping() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

// poll lists and checks the files, reads what they gained and delivers it.
func (t *Tailer) poll(ctx context.Context) {
	start := time.Now()
	defer func() { t.m.pollDuration.Observe(time.Since(start).Seconds()) }()
	t.now = t.opts.Now()
	t.more = false
	t.discover(t.now)
	// Rotated files first: their lines were written before those of the
	// files that replaced them.
	for _, rotated := range []bool{true, false} {
		for _, tf := range t.files {
			if tf.rotated != rotated {
				continue
			}
			if t.stopping() {
				break
			}
			if err := t.readFile(ctx, tf); err != nil {
				return // the batch was rewound; the next poll reads it again
			}
		}
	}
	if err := t.flush(ctx); err != nil {
		return
	}
	t.release()
	if t.dirty {
		t.save(ctx)
	}
	var lag int64
	for _, tf := range t.files {
		lag += max(0, tf.size-tf.committed)
	}
	t.m.lag.Set(float64(lag))
	t.m.files.Set(float64(len(t.files)))
}

// save hands every position to the OffsetStore. A failure is logged and
// counted; the positions stay dirty for the next save.
func (t *Tailer) save(ctx context.Context) error {
	if t.opts.Offsets == nil {
		t.dirty = false
		return nil
	}
	m := make(map[string]Offset, len(t.files))
	for _, tf := range t.files {
		if !tf.persist {
			continue
		}
		if old, dup := m[tf.path]; dup && !old.Rotated {
			continue // an active file wins its path over a rotated one
		}
		m[tf.path] = Offset{
			Offset:         tf.committed,
			Dev:            tf.id.dev,
			Inode:          tf.id.ino,
			Fingerprint:    tf.fp.hex(),
			FingerprintLen: tf.fp.n,
			Rotated:        tf.rotated,
		}
	}
	if err := t.opts.Offsets.Save(ctx, m); err != nil {
		t.m.errors.WithLabelValues(opSave).Inc()
		t.log.Warn("save file positions", "err", err)
		return fmt.Errorf("save offsets: %w", err)
	}
	t.dirty = false
	return nil
}

// release closes the rotated files read to their end whose every line was
// accepted.
func (t *Tailer) release() {
	kept := t.files[:0]
	for _, tf := range t.files {
		if !tf.finished || tf.committed < tf.read {
			kept = append(kept, tf)
			continue
		}
		tf.f.Close()
		if t.byID[tf.id] == tf {
			delete(t.byID, tf.id)
		}
		if t.byPath[tf.path] == tf {
			delete(t.byPath, tf.path)
		}
		t.dirty = true
		t.log.Info("released rotated file", "path", tf.path, "offset", tf.committed)
	}
	clear(t.files[len(kept):])
	t.files = kept
}
