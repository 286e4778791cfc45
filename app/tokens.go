package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/store"
)

// AdminTokenFile is the file in the data directory where the first start
// writes the initial admin token.
const AdminTokenFile = "admin.token"

// ensureAdminToken creates an admin token on the first start (when the store
// has none) and writes its secret to path, readable by the owner only. The
// store keeps only the hash; the file is the one place the secret exists.
func (a *App) ensureAdminToken(ctx context.Context, path string) error {
	toks, err := a.store.Tokens(ctx)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	if len(toks) > 0 {
		return nil
	}
	secret, hash, err := api.GenerateToken()
	if err != nil {
		return fmt.Errorf("generate admin token: %w", err)
	}
	// Write the file first: a token whose secret was lost would lock the
	// admin out until the data directory is edited by hand.
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	t := store.Token{ID: newID(), Name: "initial-admin", Role: store.RoleAdmin, Hash: hash, CreatedAt: a.clock().UTC()}
	if err := a.store.CreateToken(ctx, t); err != nil {
		return fmt.Errorf("store admin token: %w", err)
	}
	a.log.Info("created the initial admin token; create narrower tokens with POST /api/v1/tokens", "file", path)
	return nil
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
