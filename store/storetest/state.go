package storetest

import (
	"bytes"
	"testing"

	"github.com/vigilops/vigil/store"
)

func testState(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetState(ctx, "missing")
	wantErr(t, "get missing", err, store.ErrNotFound)

	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	large := bytes.Repeat([]byte("template snapshot "), 1<<16) // about 1 MiB
	steps := []struct {
		name, key string
		value     []byte
	}{
		{"put", "logtemplate/checkout", []byte("v1")},
		{"replace", "logtemplate/checkout", []byte("v2, longer than v1")},
		{"shorter replace", "logtemplate/checkout", []byte("3")},
		{"binary", "baseline/cart", binary},
		{"large", "snapshot", large},
		{"empty", "file/offset", []byte{}},
		{"unicode key", "ключ/☃", []byte("x")},
	}
	want := map[string][]byte{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.PutState(ctx, st.key, st.value); err != nil {
				t.Fatalf("put: %v", err)
			}
			want[st.key] = st.value
			// Every key so far, so a write cannot clobber another key.
			for k, v := range want {
				got, err := s.GetState(ctx, k)
				if err != nil {
					t.Fatalf("get %q: %v", k, err)
				}
				if !bytes.Equal(got, v) {
					t.Errorf("get %q: got %d bytes %.20q, want %d bytes %.20q", k, len(got), got, len(v), v)
				}
			}
		})
	}
}
