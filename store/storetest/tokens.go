package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
)

func token(id string, role store.Role, created time.Duration) store.Token {
	h := sha256.Sum256([]byte("secret-" + id))
	return store.Token{ID: id, Name: "name of " + id, Role: role, Hash: h[:], CreatedAt: at(created)}
}

func testTokensCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	older := token("t-older", store.RoleAdmin, 0)
	newer := token("t-newer", store.RoleViewer, time.Minute)
	newer.ExpiresAt = at(24 * time.Hour)
	newer.LastUsedAt = at(2 * time.Minute)
	// Created newest first: listing order must come from CreatedAt.
	for _, tok := range []store.Token{newer, older} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatalf("create %s: %v", tok.ID, err)
		}
	}

	list, err := s.Tokens(ctx)
	if err != nil {
		t.Fatalf("tokens: %v", err)
	}
	if len(list) != 2 {
		t.Fatalf("got %d tokens, want 2", len(list))
	}
	checkToken(t, list[0], older)
	checkToken(t, list[1], newer)

	got, err := s.TokenByHash(ctx, newer.Hash)
	if err != nil {
		t.Fatalf("by hash: %v", err)
	}
	checkToken(t, got, newer)
	unknown := sha256.Sum256([]byte("unknown"))
	_, err = s.TokenByHash(ctx, unknown[:])
	wantErr(t, "by unknown hash", err, store.ErrNotFound)

	if err := s.DeleteToken(ctx, older.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantErr(t, "delete again", s.DeleteToken(ctx, older.ID), store.ErrNotFound)
	wantErr(t, "delete unknown", s.DeleteToken(ctx, "nope"), store.ErrNotFound)
	_, err = s.TokenByHash(ctx, older.Hash)
	wantErr(t, "by hash of deleted", err, store.ErrNotFound)
	list, err = s.Tokens(ctx)
	if err != nil {
		t.Fatalf("tokens: %v", err)
	}
	if len(list) != 1 || list[0].ID != newer.ID {
		t.Errorf("after delete: got %d tokens, want only %s", len(list), newer.ID)
	}
}

func testTokensConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := token("t1", store.RoleOperator, 0)
	if err := s.CreateToken(ctx, orig); err != nil {
		t.Fatalf("create: %v", err)
	}
	sameID := token("t1", store.RoleAdmin, time.Minute)
	sameID.Hash = []byte("a different hash")
	sameHash := token("t2", store.RoleAdmin, time.Minute)
	sameHash.Hash = orig.Hash
	tests := []struct {
		name string
		tok  store.Token
	}{
		{"same ID", sameID},
		{"same hash", sameHash},
		{"same token", orig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "create", s.CreateToken(ctx, tc.tok), store.ErrConflict)
		})
	}
	// The conflicting writes changed nothing.
	list, err := s.Tokens(ctx)
	if err != nil {
		t.Fatalf("tokens: %v", err)
	}
	if len(list) != 1 {
		t.Fatalf("got %d tokens, want 1", len(list))
	}
	checkToken(t, list[0], orig)
}

func testTokensTouch(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := token("t1", store.RoleViewer, 0)
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatalf("create: %v", err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		got, err := s.TokenByHash(ctx, tok.Hash)
		if err != nil {
			t.Fatalf("by hash: %v", err)
		}
		return got.LastUsedAt
	}

	if err := s.TouchToken(ctx, tok.ID, at(5*time.Minute)); err != nil {
		t.Fatalf("touch: %v", err)
	}
	checkTime(t, "first use", lastUsed(), at(5*time.Minute))
	if err := s.TouchToken(ctx, tok.ID, at(8*time.Minute)); err != nil {
		t.Fatalf("touch: %v", err)
	}
	checkTime(t, "use minutes later", lastUsed(), at(8*time.Minute))

	// Within a minute the store may skip the write ("at most about once a
	// minute"), but the time it keeps must be one of the uses.
	if err := s.TouchToken(ctx, tok.ID, at(8*time.Minute+10*time.Second)); err != nil {
		t.Fatalf("touch: %v", err)
	}
	if got := lastUsed(); !got.Equal(at(8*time.Minute)) && !got.Equal(at(8*time.Minute+10*time.Second)) {
		t.Errorf("use seconds later: last used %v", got)
	}

	wantErr(t, "touch unknown", s.TouchToken(ctx, "nope", at(time.Hour)), store.ErrNotFound)
}
