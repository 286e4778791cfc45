package file

import (
	"bytes"
	"hash/fnv"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// fingerprintBytes is how much of a file's start its fingerprint covers:
// enough to hold a few timestamped lines, which differ between files.
const fingerprintBytes = 1024

// fingerprint is a hash of a file's first n bytes.
type fingerprint struct {
	sum uint64
	n   int
}

func fingerprintOf(head []byte) fingerprint {
	h := fnv.New64a()
	h.Write(head)
	return fingerprint{sum: h.Sum64(), n: len(head)}
}

func (f fingerprint) hex() string {
	if f.n == 0 {
		return ""
	}
	return strconv.FormatUint(f.sum, 16)
}

// readHead reads the first min(size, fingerprintBytes) bytes of f.
func readHead(f *os.File, size int64) ([]byte, error) {
	head := make([]byte, min(size, fingerprintBytes))
	n, err := f.ReadAt(head, 0)
	if err == io.EOF {
		err = nil // the file shrank since its stat: a shorter head
	}
	return head[:n], err
}

// glob lists the tailed paths, sorted and without duplicates.
func (t *Tailer) glob() []string {
	var paths []string
	for _, p := range t.opts.Include {
		m, _ := filepath.Glob(p) // patterns were checked by validate
		for _, path := range m {
			if !t.opts.excluded(path) {
				paths = append(paths, path)
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// discover matches the listing against the open files: it opens new files,
// follows files renamed to another tailed path, marks files no longer at a
// tailed path as rotated, and restarts files that were truncated.
func (t *Tailer) discover(now time.Time) {
	seen := make(map[*tailed]bool, len(t.files))
	for _, p := range t.glob() {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		id := keyOf(fi)
		if tf := t.byPath[p]; tf != nil && tf.id == id {
			seen[tf] = true
			continue
		}
		if tf := t.byID[id]; tf != nil && id.known() {
			if seen[tf] || (!tf.rotated && tf.path != p && sameKey(tf.path, id)) {
				continue // another name of a file tailed under its own (link)
			}
			// A file we have open, now under another tailed name
			// (app.log → app.log.1 with "app.log*"): same file, same
			// position.
			if t.byPath[tf.path] == tf {
				delete(t.byPath, tf.path)
			}
			t.log.Info("file renamed", "from", tf.path, "to", p)
			tf.path, tf.rotated, tf.persist = p, false, true
			t.byPath[p] = tf
			t.dirty = true
			seen[tf] = true
			continue
		}
		if tf := t.open(p, now); tf != nil {
			seen[tf] = true
		}
	}
	for _, tf := range t.files {
		if !tf.rotated && !seen[tf] {
			t.rotateAway(tf, now)
		}
	}
	for _, tf := range t.files {
		if !tf.rotated {
			t.checkTruncated(tf)
		}
	}
	if t.first {
		t.recoverRotated(now)
		t.first, t.saved, t.known = false, nil, nil
	}
}

// open starts tailing the file at p, at the position startOffset picks.
func (t *Tailer) open(p string, now time.Time) *tailed {
	f, err := os.Open(p)
	if err != nil {
		t.m.errors.WithLabelValues(opOpen).Inc()
		// Once per path: an unreadable file that matches stays so.
		if !t.openFailed[p] {
			t.openFailed[p] = true
			t.log.Warn("open file", "path", p, "err", err)
		}
		return nil
	}
	delete(t.openFailed, p)
	tf, how := t.track(f, p, now, t.startOffset)
	if tf == nil {
		return nil
	}
	t.byPath[p] = tf
	t.log.Info("tailing file", "path", p, "offset", tf.read, "from", how)
	return tf
}

// track wraps the open file f (at path p) into a tailed file, positioned
// by at; it closes f and returns nil when f cannot be tailed.
func (t *Tailer) track(f *os.File, p string, now time.Time, at func(p string, id fileKey, f *os.File, size int64) (int64, string)) (*tailed, string) {
	fi, err := f.Stat()
	if err != nil {
		t.m.errors.WithLabelValues(opStat).Inc()
		f.Close()
		return nil, ""
	}
	// The key of the open file, not of the path: the path may have been
	// renamed between the listing and the open.
	id := keyOf(fi)
	if other := t.byID[id]; other != nil && id.known() {
		f.Close()
		return nil, ""
	}
	size := fi.Size()
	head, err := readHead(f, size)
	if err != nil {
		t.m.errors.WithLabelValues(opRead).Inc()
		t.log.Warn("read file", "path", p, "err", err)
		f.Close()
		return nil, ""
	}
	start, how := at(p, id, f, size)
	if start < 0 {
		f.Close()
		return nil, ""
	}
	labels := make(map[string]string, len(t.opts.Labels)+1)
	for k, v := range t.opts.Labels {
		labels[k] = v
	}
	labels[LabelFilename] = p
	tf := &tailed{
		path:      p,
		labels:    telemetry.LabelsFromMap(labels),
		service:   t.opts.serviceFor(p),
		f:         f,
		id:        id,
		fp:        fingerprintOf(head),
		size:      size,
		read:      start,
		committed: start,
		split:     lineSplitter{max: t.opts.MaxLineBytes},
		persist:   true,
		grewAt:    now,
	}
	tf.split.reset(start)
	t.files = append(t.files, tf)
	if id.known() {
		t.byID[id] = tf
	}
	t.dirty = true
	return tf, how
}

// startOffset picks where a newly opened file starts being read: at its
// saved position, found under its path or (renamed while the tailer was
// down) under another; else, at the first scan, where StartAt says for a
// path with no saved position at all; else at 0: the file appeared after
// the tailer started, or replaced one it knew.
func (t *Tailer) startOffset(p string, id fileKey, f *os.File, size int64) (int64, string) {
	if s, ok := t.saved[p]; ok && matches(s, id, f, size) {
		delete(t.saved, p)
		return s.Offset, "saved position"
	}
	if id.known() {
		for _, k := range slices.Sorted(maps.Keys(t.saved)) {
			if s := t.saved[k]; matches(s, id, f, size) {
				delete(t.saved, k)
				return s.Offset, "saved position of " + k
			}
		}
	}
	if t.first && !t.known[p] {
		if t.opts.StartAt == StartAtBeginning {
			return 0, "beginning (start_at)"
		}
		return t.lastLineStart(f, size), "end (start_at)"
	}
	return 0, "beginning (new file)"
}

// matches reports whether the saved position s belongs to the open file f:
// same device and inode (when known), not beyond its end, and the same
// first bytes.
func matches(s Offset, id fileKey, f *os.File, size int64) bool {
	if id.known() && (s.Dev != id.dev || s.Inode != id.ino) {
		return false
	}
	if !id.known() && s.FingerprintLen == 0 && s.Offset > 0 {
		return false // nothing to recognise it by
	}
	if size < s.Offset || size < int64(s.FingerprintLen) {
		return false
	}
	if s.FingerprintLen == 0 {
		return true
	}
	head, err := readHead(f, int64(s.FingerprintLen))
	return err == nil && len(head) == s.FingerprintLen && fingerprintOf(head).hex() == s.Fingerprint
}

// lastLineStart is the offset where the last line of f begins: StartAt end
// skips the file's past, but not the start of a line still being written.
func (t *Tailer) lastLineStart(f *os.File, size int64) int64 {
	window := min(size, int64(t.opts.MaxLineBytes), readChunk)
	if window == 0 {
		return size
	}
	b := make([]byte, window)
	n, _ := f.ReadAt(b, size-window)
	if i := bytes.LastIndexByte(b[:n], '\n'); i >= 0 {
		return size - window + int64(i) + 1
	}
	if size == window {
		return 0 // one unfinished line so far
	}
	return size
}

// rotateAway marks tf, no longer at a tailed path, as rotated, and looks
// for its new name in its directory so its position can be saved.
func (t *Tailer) rotateAway(tf *tailed, now time.Time) {
	kind := rotRemoved
	if _, err := os.Stat(tf.path); err == nil {
		kind = rotReplaced
	}
	t.m.rotations.WithLabelValues(kind).Inc()
	if t.byPath[tf.path] == tf {
		delete(t.byPath, tf.path)
	}
	old := tf.path
	tf.rotated, tf.grewAt, tf.persist = true, now, false
	if q := findByKey(filepath.Dir(old), tf.id); q != "" {
		tf.path, tf.persist = q, true
	}
	t.dirty = true
	t.log.Info("file rotated", "path", old, "kind", kind, "now_at", tf.path, "unread_bytes", max(0, tf.size-tf.read))
}

// sameKey reports whether path holds the file with key id.
func sameKey(path string, id fileKey) bool {
	fi, err := os.Stat(path)
	return err == nil && keyOf(fi) == id
}

// findByKey returns the path of the regular file in dir with key id, or "".
func findByKey(dir string, id fileKey) string {
	if !id.known() {
		return ""
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err == nil && keyOf(fi) == id {
			return filepath.Join(dir, e.Name())
		}
	}
	return ""
}

// checkTruncated restarts tf from the beginning when it shrank below what
// was read, or its first bytes changed (truncated, then rewritten past the
// old position before this poll): copy-truncate rotation. An unfinished
// line from before is delivered as it is.
func (t *Tailer) checkTruncated(tf *tailed) {
	fi, err := tf.f.Stat()
	if err != nil {
		t.m.errors.WithLabelValues(opStat).Inc()
		return
	}
	tf.size = fi.Size()
	head, err := readHead(tf.f, tf.size)
	if err != nil {
		t.m.errors.WithLabelValues(opRead).Inc()
		return
	}
	same := len(head) >= tf.fp.n && fingerprintOf(head[:tf.fp.n]) == tf.fp
	if tf.size >= tf.read && same {
		if len(head) > tf.fp.n {
			tf.fp = fingerprintOf(head)
			t.dirty = true
		}
		return
	}
	t.m.rotations.WithLabelValues(rotTruncated).Inc()
	t.log.Info("file truncated, reading from the start", "path", tf.path, "size", tf.size, "was_read", tf.read)
	t.cur = tf
	tf.split.flush(t.emit)
	tf.gen++
	tf.read, tf.committed = 0, 0
	tf.split.reset(0)
	tf.fp = fingerprintOf(head)
	tf.finished = false
	t.dirty = true
}

// recoverRotated runs after the first scan on the saved positions no
// file claimed. A file saved as rotated is finished if it is still there.
// A tailed path now holding another file was rotated while the tailer was
// down: the old file is looked for in the same directory and finished
// from its saved position. Anything else is forgotten.
func (t *Tailer) recoverRotated(now time.Time) {
	for _, k := range slices.Sorted(maps.Keys(t.saved)) {
		s := t.saved[k]
		id := fileKey{dev: s.Dev, ino: s.Inode}
		path := k
		if !s.Rotated {
			if !t.opts.included(k) {
				continue
			}
			if path = findByKey(filepath.Dir(k), id); path == "" {
				t.log.Info("file gone while stopped; forgetting its position", "path", k, "offset", s.Offset)
				continue
			}
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		tf, _ := t.track(f, path, now, func(_ string, id fileKey, f *os.File, size int64) (int64, string) {
			if !id.known() || !matches(s, id, f, size) {
				return -1, ""
			}
			return s.Offset, "saved position"
		})
		if tf == nil {
			continue
		}
		tf.rotated = true
		tf.labels = tf.labels.With(LabelFilename, k)
		tf.service = t.opts.serviceFor(k)
		t.log.Info("finishing file rotated while stopped", "path", path, "rotated_from", k, "offset", s.Offset)
	}
}
