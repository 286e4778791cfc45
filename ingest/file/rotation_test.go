package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/vigilops/vigil/store"
)

// TestRotationAcrossRestarts writes numbered lines through rename and
// copy-truncate rotations, with the tailer stopped and restarted (same
// OffsetStore) in the middle of them, at moments when lines are unread:
// every line must arrive exactly once, in order.
func TestRotationAcrossRestarts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T, dir string) OffsetStore
	}{
		{"file store", func(t *testing.T, dir string) OffsetStore {
			return &FileOffsetStore{Path: filepath.Join(dir, "offsets.json")}
		}},
		{"state store", func(t *testing.T, dir string) OffsetStore {
			return NewStateOffsetStore(&stateMap{}, "")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				offsets := tc.store(t, filepath.Join(dir))
				c := &collector{}
				w := newWriter(t, path)

				tl := startTailer(t, c, offsets, path, nil)
				w.lines(1, 10)
				settle(1)
				w.lines(11, 15)
				w.rename(path + ".1")
				w.lines(16, 18) // the writer has not reopened yet
				w.reopen()
				w.lines(19, 25)
				stopTailer(t, tl) // 11-25 unread, the old file out of the glob

				tl = startTailer(t, c, offsets, path, nil)
				settle(1)
				w.lines(26, 30)
				settle(1)
				w.copyTruncate(path + ".2")
				w.lines(31, 33)
				settle(1)
				settle(3) // app.log.1 is finished and released
				w.lines(34, 40)
				w.rename(path + ".1") // replaces the released app.log.1
				w.reopen()
				w.lines(41, 45)
				settle(1)
				w.lines(46, 50)
				stopTailer(t, tl) // 46-50 unread; app.log.1 still rotated

				w.lines(51, 55) // written while stopped
				tl = startTailer(t, c, offsets, path, nil)
				settle(1)
				w.copyTruncate(path + ".3")
				w.lines(56, 70) // more than was there: found by fingerprint
				settle(1)
				settle(3)
				stopTailer(t, tl)

				wantLines(t, c.raws(), 1, 70)
				saved, err := offsets.Load(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if len(saved) != 1 || saved[path].Offset != int64(len(strings.Repeat("line 56\n", 15))) {
					t.Errorf("saved positions %+v, want only %s at its end", saved, path)
				}
			})
		})
	}
}

// TestRenameWithinGlob: app.log → app.log.1 with a pattern matching both
// keeps reading the same file under its new name, without repeats.
func TestRenameWithinGlob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		store := &memStore{}
		c := &collector{}
		w := newWriter(t, path)
		tl := startTailer(t, c, store, path+"*", nil)
		w.lines(1, 5)
		settle(1)
		w.lines(6, 8)
		w.rename(path + ".1")
		w.lines(9, 10)
		w.reopen()
		w.lines(11, 12)
		settle(1)
		stopTailer(t, tl)
		tl = startTailer(t, c, store, path+"*", nil)
		w.lines(13, 14)
		settle(1)
		stopTailer(t, tl)
		wantLines(t, c.raws(), 1, 14)
		if n := value(tl.m.rotations.WithLabelValues(rotReplaced)); n != 0 {
			t.Errorf("rotations{replaced} = %v: the renamed file was not followed", n)
		}
	})
}

// TestRotatedWhileStopped: the file was renamed and replaced while the
// tailer was down; its rest is found in the directory and read first.
func TestRotatedWhileStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		store := &memStore{}
		c := &collector{}
		w := newWriter(t, path)
		tl := startTailer(t, c, store, path, nil)
		w.lines(1, 3)
		settle(1)
		stopTailer(t, tl)
		w.lines(4, 6)
		w.rename(filepath.Join(dir, "app.log-20240101"))
		w.reopen()
		w.lines(7, 9)
		tl = startTailer(t, c, store, path, nil)
		defer stopTailer(t, tl)
		settle(1)
		wantLines(t, c.raws(), 1, 9)
	})
}

// TestInodeReuse: a saved position is not applied to another file that
// got the same device and inode, told apart by the fingerprint.
func TestInodeReuse(t *testing.T) {
	path := tempPath(t, "app.log")
	os.WriteFile(path, []byte("line 1 of the old file\nline 2\n"), 0o644)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	id := keyOf(fi)
	head, _ := readHead(f, fi.Size())
	fp := fingerprintOf(head)
	saved := Offset{Offset: 10, Dev: id.dev, Inode: id.ino, Fingerprint: fp.hex(), FingerprintLen: fp.n}
	if !matches(saved, id, f, fi.Size()) {
		t.Fatal("the saved file does not match itself")
	}
	tests := []struct {
		name string
		mod  func(Offset) Offset
	}{
		{"other inode", func(o Offset) Offset { o.Inode++; return o }},
		{"same inode, other content", func(o Offset) Offset { o.Fingerprint = "1234"; return o }},
		{"same inode, was longer", func(o Offset) Offset { o.Offset = fi.Size() + 1; return o }},
		{"same inode, longer fingerprint", func(o Offset) Offset { o.FingerprintLen = int(fi.Size()) + 1; return o }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if matches(tc.mod(saved), id, f, fi.Size()) {
				t.Error("matched")
			}
		})
	}
}

// stateMap is a store.StateStore in memory.
type stateMap struct{ m map[string][]byte }

func (s *stateMap) PutState(_ context.Context, key string, value []byte) error {
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = append([]byte(nil), value...)
	return nil
}

func (s *stateMap) GetState(_ context.Context, key string) ([]byte, error) {
	v, ok := s.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func TestOffsetStores(t *testing.T) {
	want := map[string]Offset{
		"/var/log/a.log":   {Offset: 42, Dev: 1, Inode: 2, Fingerprint: "abc", FingerprintLen: 12},
		"/var/log/a.log.1": {Offset: 7, Dev: 1, Inode: 3, Rotated: true},
	}
	for name, s := range map[string]OffsetStore{
		"state": NewStateOffsetStore(&stateMap{}, "k"),
		"file":  &FileOffsetStore{Path: tempPath(t, "offsets.json")},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			got, err := s.Load(ctx)
			if err != nil || len(got) != 0 {
				t.Fatalf("Load on empty = %v, %v", got, err)
			}
			if err := s.Save(ctx, want); err != nil {
				t.Fatal(err)
			}
			got, err = s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || got["/var/log/a.log"] != want["/var/log/a.log"] || got["/var/log/a.log.1"] != want["/var/log/a.log.1"] {
				t.Errorf("Load = %+v, want %+v", got, want)
			}
		})
	}
}

// TestLinkedNamesReadOnce: two tailed names of one file (a hard link, a
// symlink) are read once, under a stable name.
func TestLinkedNamesReadOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "b.log")
		w := newWriter(t, path)
		if err := os.Link(path, filepath.Join(dir, "a.log")); err != nil {
			t.Skip("no hard links here:", err)
		}
		if err := os.Symlink(path, filepath.Join(dir, "c.log")); err != nil {
			t.Skip("no symlinks here:", err)
		}
		c := &collector{}
		tl := startTailer(t, c, &memStore{}, filepath.Join(dir, "*.log"), nil)
		defer stopTailer(t, tl)
		w.lines(1, 3)
		settle(2)
		w.lines(4, 5)
		settle(2)
		wantLines(t, c.raws(), 1, 5)
		if n := value(tl.m.files); n != 1 {
			t.Errorf("files = %v, want 1", n)
		}
		for _, r := range c.recs {
			if r.Labels.Get(LabelFilename) != c.recs[0].Labels.Get(LabelFilename) {
				t.Fatalf("filename changed: %v", r.Labels)
			}
		}
	})
}
