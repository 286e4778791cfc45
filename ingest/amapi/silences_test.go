package amapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/correlate/silence"
)

func newSilences(t testing.TB, edit func(*silence.Options)) *silence.Silences {
	t.Helper()
	o := silence.DefaultOptions()
	if edit != nil {
		edit(&o)
	}
	s, err := silence.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func silenceBody(t testing.TB, id string, start, end time.Time, matchers string) string {
	t.Helper()
	b := `{"matchers":` + matchers + `,"startsAt":"` + ts(start) + `","endsAt":"` + ts(end) + `","createdBy":"alice","comment":"deploy"`
	if id != "" {
		b += `,"id":"` + id + `"`
	}
	return b + "}"
}

func TestSilenceAPI(t *testing.T) {
	sils := newSilences(t, func(o *silence.Options) { o.MaxDuration = 24 * time.Hour })
	f := newFixture(t, func(o *Options) { o.Silences = sils })
	eq := `[{"name":"alertname","value":"X","isRegex":false,"isEqual":true}]`

	// Create.
	w := f.do(t, "POST", "/api/v2/silences", []byte(silenceBody(t, "", t0, t0.Add(time.Hour), eq)))
	if w.Code != 200 {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	var created struct{ SilenceID string }
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.SilenceID == "" {
		t.Fatalf("POST answer %s", w.Body)
	}
	id := created.SilenceID

	// Bad bodies name what is wrong.
	bad := []struct {
		name, body, want string
		code             int
	}{
		{"not json", `{`, "not a silence object", 400},
		{"missing fields", `{"matchers":[]}`, "missing startsAt, endsAt, createdBy, comment", 400},
		{"no matchers", silenceBody(t, "", t0, t0.Add(time.Hour), `[]`), "at least one matcher", 400},
		{"matches everything", silenceBody(t, "", t0, t0.Add(time.Hour), `[{"name":"a","value":".*","isRegex":true}]`), "must not match the empty string", 400},
		{"bad regex", silenceBody(t, "", t0, t0.Add(time.Hour), `[{"name":"a","value":"(","isRegex":true}]`), "matchers[0]", 400},
		{"ends before start", silenceBody(t, "", t0.Add(time.Hour), t0, eq), "must be after startsAt", 400},
		{"ends in the past", silenceBody(t, "", t0.Add(-2*time.Hour), t0.Add(-time.Hour), eq), "in the past", 400},
		{"too long", silenceBody(t, "", t0, t0.Add(48*time.Hour), eq), "longer than the maximum of 24h0m0s", 400},
		{"unknown id", silenceBody(t, "00000000-0000-4000-8000-000000000000", t0, t0.Add(time.Hour), eq), "not found", 404},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(t, "POST", "/api/v2/silences", []byte(tc.body))
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("got %d %s; want %d with %q", w.Code, w.Body, tc.code, tc.want)
			}
		})
	}

	// Update in place: same matchers, later end.
	w = f.do(t, "POST", "/api/v2/silences", []byte(silenceBody(t, id, t0, t0.Add(2*time.Hour), eq)))
	if w.Code != 200 || !strings.Contains(w.Body.String(), id) {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
	// Changed matchers: the old one expires, a new ID answers.
	other := `[{"name":"alertname","value":"Y","isRegex":true}]`
	w = f.do(t, "POST", "/api/v2/silences", []byte(silenceBody(t, id, t0, t0.Add(2*time.Hour), other)))
	if w.Code != 200 || strings.Contains(w.Body.String(), id) {
		t.Fatalf("replace: %d %s", w.Code, w.Body)
	}
	old, _ := sils.Get(id)
	if old.State(t0) != silence.StateExpired {
		t.Errorf("replaced silence is %s, want expired", old.State(t0))
	}

	// List with filter.
	var list []gettableSilence
	w = f.do(t, "GET", "/api/v2/silences?filter=alertname%3DY", nil)
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Matchers[0].Value != "Y" || !list[0].Matchers[0].IsRegex || !list[0].Matchers[0].IsEqual || list[0].Status.State != "active" {
		t.Errorf("filtered list %s", w.Body)
	}
	w = f.do(t, "GET", "/api/v2/silences", nil)
	_ = json.Unmarshal(w.Body.Bytes(), &list)
	if len(list) != 2 || list[0].Status.State != "active" || list[1].Status.State != "expired" {
		t.Errorf("list %s", w.Body)
	}

	// Get and delete.
	newID := list[0].ID
	if w := f.do(t, "GET", "/api/v2/silence/"+newID, nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"createdBy":"alice"`) {
		t.Errorf("GET one: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "GET", "/api/v2/silence/nope", nil); w.Code != 404 {
		t.Errorf("GET unknown: %d", w.Code)
	}
	if w := f.do(t, "DELETE", "/api/v2/silence/"+newID, nil); w.Code != 200 {
		t.Errorf("DELETE: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "DELETE", "/api/v2/silence/"+newID, nil); w.Code != 400 || !strings.Contains(w.Body.String(), "already expired") {
		t.Errorf("DELETE again: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "DELETE", "/api/v2/silence/nope", nil); w.Code != 404 {
		t.Errorf("DELETE unknown: %d", w.Code)
	}
}

func TestSilenceRoutesAbsentWithoutSilences(t *testing.T) {
	f := newFixture(t, nil)
	for _, target := range []string{"/api/v2/silences", "/api/v2/silence/x", "/api/v2/alerts/groups"} {
		if w := f.do(t, "GET", target, nil); w.Code != 404 {
			t.Errorf("GET %s: %d", target, w.Code)
		}
	}
}

func TestSilencedAlertStatus(t *testing.T) {
	sils := newSilences(t, nil)
	f := newFixture(t, func(o *Options) { o.Silences = sils })
	f.post(t, mustJSON(t, []map[string]any{{"labels": map[string]string{"alertname": "X"}}, {"labels": map[string]string{"alertname": "Z"}}}))
	w := f.do(t, "POST", "/api/v2/silences", []byte(silenceBody(t, "", t0, t0.Add(time.Hour), `[{"name":"alertname","value":"X","isRegex":false}]`)))
	if w.Code != 200 {
		t.Fatal(w.Body)
	}
	all := f.list(t, "")
	if len(all) != 2 {
		t.Fatalf("listed %d", len(all))
	}
	for _, a := range all {
		silenced := len(a.Status.SilencedBy) == 1
		if (a.Labels["alertname"] == "X") != silenced || (a.Status.State == "suppressed") != silenced {
			t.Errorf("%s: %+v", a.Labels["alertname"], a.Status)
		}
	}
	if got := names(f.list(t, "silenced=false")); len(got) != 1 || got[0] != "Z" {
		t.Errorf("silenced=false listed %v", got)
	}
	if got := names(f.list(t, "active=false")); len(got) != 1 || got[0] != "X" {
		t.Errorf("active=false listed %v", got)
	}
}

// TestAmtoolSilence drives amtool silence add/query/expire against the
// receiver. It skips when amtool is not installed.
func TestAmtoolSilence(t *testing.T) {
	bin, err := exec.LookPath("amtool")
	if err != nil {
		t.Skip("amtool not installed (apt-get install prometheus-alertmanager)")
	}
	sils := newSilences(t, nil)
	f := newFixture(t, func(o *Options) { o.Now, o.Silences = time.Now, sils })
	srv := httptest.NewServer(f.mux)
	defer srv.Close()
	home := t.TempDir()
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--alertmanager.url=" + srv.URL}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "USER=tester"}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("amtool %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	id := run(t, "silence", "add", "alertname=X", "-c", "maintenance", "-d", "1h", "--author=alice")
	s, err := sils.Get(id)
	if err != nil {
		t.Fatalf("amtool printed %q, not a stored silence ID: %v", id, err)
	}
	if s.CreatedBy != "alice" || s.Comment != "maintenance" || s.Matchers.String() != `{alertname="X"}` {
		t.Errorf("stored %+v", s)
	}
	if d := s.EndsAt.Sub(s.StartsAt); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("duration %s", d)
	}
	if out := run(t, "silence", "query", "-q"); out != id {
		t.Errorf("query -q printed %q", out)
	}
	if out := run(t, "silence", "query", "alertname=X"); !strings.Contains(out, "maintenance") || !strings.Contains(out, "alice") {
		t.Errorf("query printed %q", out)
	}
	if out := run(t, "silence", "query", "alertname=Other", "-q"); out != "" {
		t.Errorf("filtered query printed %q", out)
	}
	run(t, "silence", "expire", id)
	if s, _ := sils.Get(id); s.State(time.Now()) != silence.StateExpired {
		t.Errorf("after expire: %s", s.State(time.Now()))
	}
	if out := run(t, "silence", "query", "-q"); out != "" {
		t.Errorf("query after expire printed %q", out)
	}
	if out := run(t, "silence", "query", "--expired", "-q"); out != id {
		t.Errorf("query --expired printed %q", out)
	}
}

func TestSilenceAuth(t *testing.T) {
	deny := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Role") != "operator" {
				http.Error(w, "operator role required", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	f := newFixture(t, func(o *Options) { o.Silences, o.SilenceAuth = newSilences(t, nil), deny })
	body := []byte(silenceBody(t, "", t0, t0.Add(time.Hour), `[{"name":"a","value":"b","isRegex":false}]`))
	if w := f.do(t, "POST", "/api/v2/silences", body); w.Code != 403 {
		t.Errorf("POST without role: %d", w.Code)
	}
	if w := f.do(t, "POST", "/api/v2/silences", body, "X-Role", "operator"); w.Code != 200 {
		t.Errorf("POST with role: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "GET", "/api/v2/silences", nil); w.Code != 200 {
		t.Errorf("GET needs no role: %d", w.Code)
	}
	if w := f.do(t, "DELETE", "/api/v2/silence/x", nil); w.Code != 403 {
		t.Errorf("DELETE without role: %d", w.Code)
	}
}
