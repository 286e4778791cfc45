package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigilops/vigil/store"
)

// Offset is the saved read position of one file.
type Offset struct {
	// Offset is the byte just past the last line the Sink accepted.
	Offset int64 `json:"offset"`
	// Dev and Inode identify the file (0 where the platform has none):
	// a different file at the same path is a rotation.
	Dev   uint64 `json:"dev,omitempty"`
	Inode uint64 `json:"inode,omitempty"`
	// Fingerprint is a hash (FNV-1a, 64 bits, hex) of the file's first
	// FingerprintLen bytes (at most 1 KiB). It tells a file apart from a
	// new one that reuses its inode, and a file truncated and rewritten
	// past its old position from the one that was saved.
	Fingerprint    string `json:"fingerprint,omitempty"`
	FingerprintLen int    `json:"fingerprint_len,omitempty"`
	// Rotated marks a file that was rotated away from a tailed path and
	// had not been read to its end: on restart it is finished, if it still
	// exists under this key, and then forgotten.
	Rotated bool `json:"rotated,omitempty"`
}

// OffsetStore keeps the read positions of a tailer, keyed by path. Save
// replaces the whole set; it must be durable when it returns nil.
type OffsetStore interface {
	Load(ctx context.Context) (map[string]Offset, error)
	Save(ctx context.Context, offsets map[string]Offset) error
}

// offsetsDoc is the stored form; the version lets the format change.
type offsetsDoc struct {
	Version int               `json:"version"`
	Files   map[string]Offset `json:"files"`
}

const offsetsVersion = 1

func encodeOffsets(m map[string]Offset) ([]byte, error) {
	return json.Marshal(offsetsDoc{Version: offsetsVersion, Files: m})
}

func decodeOffsets(b []byte) (map[string]Offset, error) {
	var d offsetsDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode offsets: %w", err)
	}
	if d.Version != offsetsVersion {
		return nil, fmt.Errorf("decode offsets: unknown version %d", d.Version)
	}
	if d.Files == nil {
		d.Files = map[string]Offset{}
	}
	return d.Files, nil
}

// DefaultOffsetsKey is the StateStore key of a StateOffsetStore created
// with an empty key. Each tailer needs a key of its own.
const DefaultOffsetsKey = "ingest.file.offsets"

// StateOffsetStore keeps offsets as one JSON value in a store.StateStore.
type StateOffsetStore struct {
	state store.StateStore
	key   string
}

var _ OffsetStore = (*StateOffsetStore)(nil)

// NewStateOffsetStore returns an OffsetStore over s under key (""
// means DefaultOffsetsKey).
func NewStateOffsetStore(s store.StateStore, key string) *StateOffsetStore {
	if key == "" {
		key = DefaultOffsetsKey
	}
	return &StateOffsetStore{state: s, key: key}
}

// Load implements OffsetStore; a missing key is an empty set.
func (s *StateOffsetStore) Load(ctx context.Context) (map[string]Offset, error) {
	b, err := s.state.GetState(ctx, s.key)
	if errors.Is(err, store.ErrNotFound) {
		return map[string]Offset{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load offsets: %w", err)
	}
	return decodeOffsets(b)
}

// Save implements OffsetStore.
func (s *StateOffsetStore) Save(ctx context.Context, m map[string]Offset) error {
	b, err := encodeOffsets(m)
	if err != nil {
		return err
	}
	if err := s.state.PutState(ctx, s.key, b); err != nil {
		return fmt.Errorf("save offsets: %w", err)
	}
	return nil
}

// FileOffsetStore keeps offsets as JSON in one file, replaced atomically
// (write, fsync, rename). It suits tests and stand-alone CLI runs.
type FileOffsetStore struct {
	// Path is the file; its directory must exist.
	Path string
}

var _ OffsetStore = (*FileOffsetStore)(nil)

// Load implements OffsetStore; a missing file is an empty set.
func (s *FileOffsetStore) Load(ctx context.Context) (map[string]Offset, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]Offset{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load offsets: %w", err)
	}
	return decodeOffsets(b)
}

// Save implements OffsetStore.
func (s *FileOffsetStore) Save(ctx context.Context, m map[string]Offset) error {
	b, err := encodeOffsets(m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), filepath.Base(s.Path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save offsets: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save offsets: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save offsets: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save offsets: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		return fmt.Errorf("save offsets: %w", err)
	}
	// The rename is durable once the directory is synced; not every
	// platform lets a directory be synced, and the data is safe either way.
	if d, err := os.Open(filepath.Dir(s.Path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
