package ingest

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Auth protects receivers the way their senders expect: Prometheus,
// Promtail, collectors and vmalert all support a bearer token or basic auth
// for their targets. With neither set, receivers are open, which is the
// default because Vigil listens on loopback by default.
type Auth struct {
	BearerToken   string
	BasicUsername string
	BasicPassword string
}

// Enabled reports whether any credential is configured.
func (a Auth) Enabled() bool { return a.BearerToken != "" || a.BasicUsername != "" }

// Wrap returns h guarded by a. Failures answer 401 with a WWW-Authenticate
// challenge naming the accepted schemes.
func (a Auth) Wrap(h http.Handler) http.Handler {
	if !a.Enabled() {
		return h
	}
	// Compare digests so that the comparison time does not depend on the
	// length of the secret either.
	bearer := sha256.Sum256([]byte(a.BearerToken))
	user := sha256.Sum256([]byte(a.BasicUsername))
	pass := sha256.Sum256([]byte(a.BasicPassword))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.allowed(r, bearer, user, pass) {
			h.ServeHTTP(w, r)
			return
		}
		var schemes []string
		if a.BearerToken != "" {
			schemes = append(schemes, `Bearer realm="vigil"`)
		}
		if a.BasicUsername != "" {
			schemes = append(schemes, `Basic realm="vigil"`)
		}
		w.Header().Set("WWW-Authenticate", strings.Join(schemes, ", "))
		WriteError(w, errUnauthorized, http.StatusUnauthorized)
	})
}

type authError string

func (e authError) Error() string { return string(e) }

const errUnauthorized = authError("missing or wrong credentials for this receiver")

func (a Auth) allowed(r *http.Request, bearer, user, pass [32]byte) bool {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return false
	}
	switch {
	case a.BearerToken != "" && strings.EqualFold(scheme, "Bearer"):
		got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
		return subtle.ConstantTimeCompare(got[:], bearer[:]) == 1
	case a.BasicUsername != "" && strings.EqualFold(scheme, "Basic"):
		u, p, ok := r.BasicAuth()
		if !ok {
			return false
		}
		gu, gp := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		return subtle.ConstantTimeCompare(gu[:], user[:])&subtle.ConstantTimeCompare(gp[:], pass[:]) == 1
	}
	return false
}
