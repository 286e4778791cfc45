package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// TestWallAndDataClocks: with the data on a clock of their own (the demo's
// simulated time, hours ahead), an event without a time gets the data's
// clock, while a token's expiry and the uptime follow the wall clock.
func TestWallAndDataClocks(t *testing.T) {
	wall := &fakeClock{t: testStart}
	env := newTestEnv(t, func(o *Options) { o.Wall = wall.Now })
	env.clock.Advance(5 * time.Hour) // the data's clock runs ahead
	tok := env.addToken(t, "hour", store.RoleOperator, testStart.Add(time.Hour))
	// An hour of data time after the token's wall expiry, it still works.
	wantStatus(t, env.do(t, "POST", "/api/v1/events", `{"kind":"deploy","service":"checkout"}`, tok), http.StatusOK)
	env.events.mtx.Lock()
	evs := append([]telemetry.Event(nil), env.events.events...)
	env.events.mtx.Unlock()
	if len(evs) != 1 || !evs[0].Time.Equal(testStart.Add(5*time.Hour)) {
		t.Fatalf("event times %v, want the data clock %v", evs, testStart.Add(5*time.Hour))
	}
	rec := env.do(t, "GET", "/api/v1/status", "", tok)
	var st struct {
		UptimeSeconds float64 `json:"uptime_seconds"`
	}
	mustJSON(t, rec, &st)
	if st.UptimeSeconds != 0 {
		t.Errorf("uptime %vs, want 0 on the wall clock (the data clock ran 5h ahead)", st.UptimeSeconds)
	}
	wall.Advance(time.Hour + time.Second)
	wantError(t, env.do(t, "GET", "/api/v1/status", "", tok), http.StatusUnauthorized)
}
