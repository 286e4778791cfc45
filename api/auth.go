package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vigilops/vigil/store"
)

const (
	// touchInterval spaces the last-used updates of one token: the store
	// sees at most one write per token per interval, however busy it is.
	touchInterval = time.Minute
	// touchTimeout bounds one background last-used update.
	touchTimeout = 5 * time.Second
	// maxCachedTokens bounds the auth cache. Only valid tokens enter it, so
	// the bound is about memory hygiene, not about attackers.
	maxCachedTokens = 1024
	// maxSecretLen refuses absurd Authorization headers before hashing them.
	maxSecretLen = 512
)

// principal is who a request acts as.
type principal struct {
	role     store.Role
	token    store.Token
	hasToken bool
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// RoleFrom returns the role the request acts with: its token's role (or the
// anonymous role, when that is higher or there is no token). It is "" on
// public routes, which skip authentication altogether.
func RoleFrom(ctx context.Context) store.Role {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p.role
}

// TokenFrom returns the token the request was authenticated with, if any.
// The token's Hash is set; never log or return it.
func TokenFrom(ctx context.Context) (store.Token, bool) {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p.token, p.hasToken
}

// authenticator turns Authorization headers into principals. Successful
// lookups are cached for ttl: a token deleted through this server stops
// working at once (the cache entry is dropped), but one deleted elsewhere
// (another process, the store directly) keeps working here for up to ttl.
type authenticator struct {
	tokens  store.TokenStore
	anon    store.Role
	now     func() time.Time
	ttl     time.Duration // <= 0 disables the cache
	logger  *slog.Logger
	metrics *metrics
	// touch records a use of the token in the background.
	touch func(id string, at time.Time)

	mtx     sync.RWMutex // protects cache and touched
	cache   map[[sha256.Size]byte]cachedToken
	touched map[string]time.Time // token ID → last use we asked the store to record
}

type cachedToken struct {
	token   store.Token
	fetched time.Time
}

func newAuthenticator(o Options, m *metrics, touch func(string, time.Time)) *authenticator {
	return &authenticator{
		tokens:  o.Tokens,
		anon:    o.AnonymousRole,
		now:     o.Wall,
		ttl:     o.TokenCacheTTL,
		logger:  o.Logger,
		metrics: m,
		touch:   touch,
		cache:   make(map[[sha256.Size]byte]cachedToken),
		touched: make(map[string]time.Time),
	}
}

// authorize authenticates r and checks that it may act with role min.
func (a *authenticator) authorize(r *http.Request, min store.Role) (principal, error) {
	p, err := a.authenticate(r)
	if err != nil {
		return principal{}, err
	}
	if p.role.Rank() >= min.Rank() {
		return p, nil
	}
	if !p.hasToken {
		a.metrics.authFailures.WithLabelValues(authMissing).Inc()
		return principal{}, Errorf(http.StatusUnauthorized, CodeUnauthorized,
			"this endpoint needs a token with the %s role or higher: send Authorization: Bearer <token>", min)
	}
	a.metrics.authFailures.WithLabelValues(authForbidden).Inc()
	return principal{}, Errorf(http.StatusForbidden, CodeForbidden,
		"this endpoint needs the %s role or higher; the token %q has the %s role", min, p.token.Name, p.token.Role)
}

// authenticate resolves the request's principal. No Authorization header
// means the anonymous role; a header that is present but wrong is always a
// 401, never a silent fallback to anonymous, so a client with a typo learns
// of it on its first request.
func (a *authenticator) authenticate(r *http.Request) (principal, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return principal{role: a.anon}, nil
	}
	secret, ok := "", len(vals) == 1
	if ok {
		secret, ok = parseBearer(vals[0])
	}
	if !ok {
		a.metrics.authFailures.WithLabelValues(authMalformed).Inc()
		return principal{}, Errorf(http.StatusUnauthorized, CodeUnauthorized,
			"malformed Authorization header: want one header of the form \"Bearer <token>\"")
	}
	hash := sha256.Sum256([]byte(secret))
	now := a.now()
	tok, err := a.lookup(r.Context(), hash, now)
	if errors.Is(err, store.ErrNotFound) {
		a.metrics.authFailures.WithLabelValues(authInvalid).Inc()
		return principal{}, Errorf(http.StatusUnauthorized, CodeUnauthorized, "invalid token")
	}
	if err != nil {
		return principal{}, fmt.Errorf("look up token: %w", err)
	}
	// The store found the token by its hash; comparing again in constant
	// time guards against a store that matches loosely (a prefix, a
	// collation) without leaking how much of the hash matched.
	if subtle.ConstantTimeCompare(tok.Hash, hash[:]) != 1 {
		a.logger.Warn("token store returned a token whose hash does not match", "token_id", tok.ID)
		a.metrics.authFailures.WithLabelValues(authInvalid).Inc()
		return principal{}, Errorf(http.StatusUnauthorized, CodeUnauthorized, "invalid token")
	}
	if !tok.ExpiresAt.IsZero() && !now.Before(tok.ExpiresAt) {
		a.metrics.authFailures.WithLabelValues(authExpired).Inc()
		return principal{}, Errorf(http.StatusUnauthorized, CodeUnauthorized, "token expired")
	}
	a.maybeTouch(tok, now)
	role := tok.Role
	if a.anon.Rank() > role.Rank() {
		// The anonymous role is a floor: a token never makes a caller
		// weaker than sending none.
		role = a.anon
	}
	return principal{role: role, token: tok, hasToken: true}, nil
}

// parseBearer extracts the secret from "Bearer <secret>". The scheme is
// case-insensitive (RFC 9110 §11.1); the secret is not.
func parseBearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	secret := strings.Trim(h[len(scheme):], " \t")
	if secret == "" || len(secret) > maxSecretLen || strings.ContainsAny(secret, " \t") {
		return "", false
	}
	return secret, true
}

// lookup returns the token with this hash, from the cache while fresh.
func (a *authenticator) lookup(ctx context.Context, hash [sha256.Size]byte, now time.Time) (store.Token, error) {
	if a.ttl > 0 {
		a.mtx.RLock()
		c, ok := a.cache[hash]
		a.mtx.RUnlock()
		// A clock that went backwards makes the age negative: refetch
		// rather than trust an entry from the future.
		if age := now.Sub(c.fetched); ok && age >= 0 && age < a.ttl {
			return c.token, nil
		}
	}
	tok, err := a.tokens.TokenByHash(ctx, hash[:])
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			a.mtx.Lock()
			delete(a.cache, hash)
			a.mtx.Unlock()
		}
		return store.Token{}, err
	}
	if a.ttl > 0 {
		a.mtx.Lock()
		a.evictLocked(now)
		a.cache[hash] = cachedToken{token: tok, fetched: now}
		a.mtx.Unlock()
	}
	return tok, nil
}

// evictLocked makes room for one entry: stale entries go first, then an
// arbitrary one (map order is random, which is fair enough for a cache
// whose misses cost one indexed store read).
func (a *authenticator) evictLocked(now time.Time) {
	if len(a.cache) < maxCachedTokens {
		return
	}
	for h, c := range a.cache {
		if now.Sub(c.fetched) >= a.ttl {
			delete(a.cache, h)
		}
	}
	for h := range a.cache {
		if len(a.cache) < maxCachedTokens {
			break
		}
		delete(a.cache, h)
	}
}

// forget drops everything known about a token, so that deleting it through
// this server takes effect on the next request.
func (a *authenticator) forget(id string) {
	a.mtx.Lock()
	defer a.mtx.Unlock()
	for h, c := range a.cache {
		if c.token.ID == id {
			delete(a.cache, h)
		}
	}
	delete(a.touched, id)
}

// maybeTouch asks for the token's last use to be recorded, at most once per
// touchInterval per token. The write happens in the background: a slow or
// failing store must not slow or fail the request that merely used a token.
func (a *authenticator) maybeTouch(tok store.Token, now time.Time) {
	a.mtx.RLock()
	last := a.touched[tok.ID]
	a.mtx.RUnlock()
	if tok.LastUsedAt.After(last) {
		last = tok.LastUsedAt
	}
	if now.Sub(last) < touchInterval {
		return
	}
	a.mtx.Lock()
	if t := a.touched[tok.ID]; now.Sub(t) < touchInterval {
		a.mtx.Unlock()
		return // another request got here first
	}
	if len(a.touched) >= maxCachedTokens {
		// Entries older than the interval no longer hold a touch back, so
		// dropping them changes nothing.
		for id, t := range a.touched {
			if now.Sub(t) >= touchInterval {
				delete(a.touched, id)
			}
		}
	}
	a.touched[tok.ID] = now
	a.mtx.Unlock()
	a.touch(tok.ID, now)
}

// touchToken records a token use in the background.
func (s *Server) touchToken(id string, at time.Time) {
	s.goBackground(func() {
		ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
		defer cancel()
		if err := s.opts.Tokens.TouchToken(ctx, id, at); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.logger.Warn("record token use", "token_id", id, "err", err)
		}
	})
}
