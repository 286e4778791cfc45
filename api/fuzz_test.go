package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// FuzzDecodeEvents drives POST /api/v1/events with arbitrary bodies: it
// must never panic, answer 200, 400 or 413 only, and store exactly the
// events it reports as accepted, all of them valid.
func FuzzDecodeEvents(f *testing.F) {
	for _, s := range []string{
		validEvent,
		`[` + validEvent + `,{"kind":"scaling"}]`,
		`[{"kind":"deploy","time":5},{"kind":"x"},null,[],{}]`,
		`{"kind":"deploy","labels":{"a":"b","":"c"},"attributes":{"k":"v"},"id":"x"}`,
		`{"kind":"deploy","time":"2024-05-01T12:00:00.123456789+14:00"}`,
		`[`, `]`, `{"kind":"deploy"} x`, `"x"`, ``, `[]`, `[[[[`,
		`{"kind":"deploy","time":"\u0032024-01-01T00:00:00Z"}`,
	} {
		f.Add(s)
	}
	env := newTestEnv(f, func(o *Options) { o.MaxBodyBytes = 1024 })
	secret := env.secrets[store.RoleOperator]
	var stored int // events in the last AppendEvents call
	env.events.AppendEventsFunc = func(_ context.Context, evs []telemetry.Event) error {
		for _, ev := range evs {
			if err := ev.Validate(); err != nil || ev.ID == "" {
				return fmt.Errorf("invalid event reached the store: %+v: %v", ev, err)
			}
		}
		stored = len(evs)
		return nil
	}
	f.Fuzz(func(t *testing.T, body string) {
		stored = 0
		req := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		env.s.Handler().ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var got eventsAccepted
			mustJSON(t, rec, &got)
			if got.Accepted < 1 || got.Accepted != len(got.IDs) {
				t.Fatalf("200 with %d accepted, %d ids", got.Accepted, len(got.IDs))
			}
			if stored != got.Accepted {
				t.Fatalf("stored %d events for %d accepted", stored, got.Accepted)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			wantError(t, rec, rec.Code)
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

// FuzzAuthHeader: any Authorization value gives 200 only for the exact
// secret, a JSON 401 otherwise, and never a panic or another status.
func FuzzAuthHeader(f *testing.F) {
	env := newTestEnv(f, nil)
	secret := env.secrets[store.RoleViewer]
	for _, s := range []string{
		"Bearer " + secret, "bearer " + secret, "Bearer " + secret + "x", "Bearer", "Bearer ", "Basic abc",
		"Bearer \x00", "Bearer  \t " + secret, "", "Bearer " + strings.Repeat("z", 600), "Bearer vgl_",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest("GET", "/api/v1/status", nil)
		req.Header["Authorization"] = []string{header}
		rec := httptest.NewRecorder()
		env.s.Handler().ServeHTTP(rec, req)
		valid := false
		if s, ok := parseBearer(header); ok && s == secret {
			valid = true
		}
		switch {
		case valid:
			wantStatus(t, rec, http.StatusOK)
		default:
			wantError(t, rec, http.StatusUnauthorized)
		}
	})
}
