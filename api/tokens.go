package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/store"
)

// TokenPrefix starts every secret GenerateToken makes, so that secret
// scanners (and people) can recognise a leaked Vigil token.
const TokenPrefix = "vgl_"

// maxTokenNameLen bounds a token's name, a label for people.
const maxTokenNameLen = 100

// GenerateToken returns a new secret, "vgl_" and 32 random bytes in
// unpadded base64url, with its hash as stored. The secret is shown once and
// never stored.
func GenerateToken() (secret string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("generate token: %w", err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashToken(secret), nil
}

// HashToken returns the SHA-256 of a secret, the form tokens are stored and
// looked up by. A fast hash is right here, unlike for passwords: the secret
// has 256 random bits, so there is no dictionary to slow down.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read does not fail on supported platforms (it crashes the
	// program rather than return weak bytes).
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tokenView is a token as the API shows it: never the hash.
type tokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       store.Role `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at,omitzero"`
	LastUsedAt time.Time  `json:"last_used_at,omitzero"`
	Expired    bool       `json:"expired,omitempty"`
	// Secret is set only in the answer to the request that created it.
	Secret string `json:"secret,omitempty"`
}

func viewToken(t store.Token, now time.Time) tokenView {
	return tokenView{
		ID:         t.ID,
		Name:       t.Name,
		Role:       t.Role,
		CreatedAt:  t.CreatedAt,
		ExpiresAt:  t.ExpiresAt,
		LastUsedAt: t.LastUsedAt,
		Expired:    !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt),
	}
}

type createTokenRequest struct {
	Name string     `json:"name"`
	Role store.Role `json:"role"`
	// ExpiresIn is a Go duration ("720h"); empty means the token never expires.
	ExpiresIn string `json:"expires_in,omitempty"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	switch {
	case req.Name == "":
		return Errorf(http.StatusBadRequest, CodeBadRequest, "field \"name\" is required")
	case len(req.Name) > maxTokenNameLen || !utf8.ValidString(req.Name):
		return Errorf(http.StatusBadRequest, CodeBadRequest, "field \"name\" must be valid UTF-8 of at most %d bytes", maxTokenNameLen)
	case !req.Role.Valid():
		return Errorf(http.StatusBadRequest, CodeBadRequest, "field \"role\": want viewer, operator or admin, got %q", truncate(string(req.Role), 40))
	}
	now := s.opts.Wall()
	tok := store.Token{ID: randomHex(8), Name: req.Name, Role: req.Role, CreatedAt: now}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return Errorf(http.StatusBadRequest, CodeBadRequest,
				"field \"expires_in\": want a positive Go duration such as \"720h\", got %q", truncate(req.ExpiresIn, 40))
		}
		tok.ExpiresAt = now.Add(d)
	}
	secret, hash, err := GenerateToken()
	if err != nil {
		return err
	}
	tok.Hash = hash
	if err := s.opts.Tokens.CreateToken(r.Context(), tok); err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	by, _ := TokenFrom(r.Context())
	s.logger.Info("api token created", "token_id", tok.ID, "name", tok.Name, "role", tok.Role, "by", by.ID)
	v := viewToken(tok, now)
	v.Secret = secret
	// The secret is in this body and nowhere else: keep it out of caches.
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.opts.Tokens.Tokens(r.Context())
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	now := s.opts.Wall()
	views := make([]tokenView, len(toks))
	for i, t := range toks {
		views[i] = viewToken(t, now)
	}
	WriteJSON(w, http.StatusOK, struct {
		Tokens []tokenView `json:"tokens"`
	}{views})
	return nil
}

// deleteToken deletes any token, the one authenticating this very request
// included: an admin revoking a leaked token may well be using it, and
// refusing would leave the leak open. The caller then needs another admin
// token for further admin work.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := s.opts.Tokens.DeleteToken(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return Errorf(http.StatusNotFound, CodeNotFound, "no token with id %q", truncate(id, 64))
	}
	if err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	// Drop it from this server's cache now; other processes sharing the
	// store notice within the cache TTL.
	s.auth.forget(id)
	by, _ := TokenFrom(r.Context())
	s.logger.Info("api token deleted", "token_id", id, "by", by.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
