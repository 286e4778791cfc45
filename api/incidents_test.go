package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/store"
)

// fakeIncidents is an in-memory IncidentService over one incident "inc-1"
// (open) and one "inc-2" (resolved). It records the last call.
type fakeIncidents struct {
	mtx     sync.Mutex // protects the fields below
	incs    map[string]*incident.Incident
	notes   []incident.Action
	query   incident.Query
	verdict incident.Verdict
	signal  string
	into    string
	split   []string
	last    incident.Action
}

func newFakeIncidents() *fakeIncidents {
	return &fakeIncidents{incs: map[string]*incident.Incident{
		"inc-1": {ID: "inc-1", Status: incident.StatusOpen, OpenedAt: testStart, Services: []string{"checkout"}},
		"inc-2": {ID: "inc-2", Status: incident.StatusResolved, OpenedAt: testStart.Add(-time.Hour), ResolvedAt: testStart},
	}}
}

func (f *fakeIncidents) find(id string) (*incident.Incident, error) {
	inc := f.incs[id]
	if inc == nil {
		return nil, fmt.Errorf("%w: %q", incident.ErrNotFound, id)
	}
	return inc, nil
}

func (f *fakeIncidents) Incidents(_ context.Context, q incident.Query) ([]incident.Incident, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.query = q
	var out []incident.Incident
	for _, id := range []string{"inc-1", "inc-2"} {
		if q.Match(f.incs[id]) {
			out = append(out, *f.incs[id])
		}
	}
	return out, nil
}

func (f *fakeIncidents) Incident(_ context.Context, id string) (incident.Incident, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	inc, err := f.find(id)
	if err != nil {
		return incident.Incident{}, err
	}
	return *inc, nil
}

func (f *fakeIncidents) Timeline(_ context.Context, id string) ([]incident.Entry, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	if _, err := f.find(id); err != nil {
		return nil, err
	}
	es := []incident.Entry{{Time: testStart, Kind: incident.EntryStatus, Text: "opened"}}
	for _, n := range f.notes {
		es = append(es, incident.Entry{Time: n.At, Kind: incident.EntryNote, Text: n.Text})
	}
	return es, nil
}

func (f *fakeIncidents) change(id string, a incident.Action, fn func(*incident.Incident) ([]incident.Entry, error)) (incident.Incident, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.last = a
	inc, err := f.find(id)
	if err != nil {
		return incident.Incident{}, err
	}
	if _, err := fn(inc); err != nil {
		return *inc, err
	}
	return *inc, nil
}

func (f *fakeIncidents) Acknowledge(_ context.Context, id string, a incident.Action) (incident.Incident, error) {
	return f.change(id, a, func(inc *incident.Incident) ([]incident.Entry, error) { return inc.Acknowledge(a) })
}

func (f *fakeIncidents) Resolve(_ context.Context, id string, a incident.Action) (incident.Incident, error) {
	return f.change(id, a, func(inc *incident.Incident) ([]incident.Entry, error) { return inc.Resolve(a) })
}

func (f *fakeIncidents) AddNote(_ context.Context, id string, a incident.Action) (incident.Incident, error) {
	return f.change(id, a, func(*incident.Incident) ([]incident.Entry, error) {
		f.notes = append(f.notes, a)
		return nil, nil
	})
}

func (f *fakeIncidents) Feedback(_ context.Context, id string, v incident.Verdict, signal string, a incident.Action) (incident.Incident, error) {
	return f.change(id, a, func(inc *incident.Incident) ([]incident.Entry, error) {
		if signal != "" && signal != "alert:1" {
			return nil, fmt.Errorf("%w: no signal %q", incident.ErrInvalid, signal)
		}
		f.verdict, f.signal, inc.Verdict = v, signal, v
		return nil, nil
	})
}

func (f *fakeIncidents) Merge(_ context.Context, id, into string, a incident.Action) (incident.Incident, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.last, f.into = a, into
	if _, err := f.find(id); err != nil {
		return incident.Incident{}, err
	}
	dst, err := f.find(into)
	if err != nil {
		return incident.Incident{}, err
	}
	return *dst, nil
}

func (f *fakeIncidents) Split(_ context.Context, id string, signals []string, a incident.Action) (incident.Incident, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.last, f.split = a, signals
	if _, err := f.find(id); err != nil {
		return incident.Incident{}, err
	}
	return incident.Incident{ID: "inc-3", Status: incident.StatusOpen, OpenedAt: a.At}, nil
}

func incidentsEnv(t *testing.T) (*testEnv, *fakeIncidents) {
	env := newTestEnv(t, nil)
	f := newFakeIncidents()
	env.s.HandleIncidents(f)
	return env, f
}

func TestIncidentReads(t *testing.T) {
	env, f := incidentsEnv(t)
	viewer := env.secrets[store.RoleViewer]
	tests := []struct {
		path   string
		status int
		want   []string // incident IDs for lists
	}{
		{"/api/v1/incidents", 200, []string{"inc-1", "inc-2"}},
		{"/api/v1/incidents?status=open", 200, []string{"inc-1"}},
		{"/api/v1/incidents?service=checkout&limit=5", 200, []string{"inc-1"}},
		{"/api/v1/incidents?from=2024-05-01T11:30:00Z", 200, []string{"inc-1"}},
		{"/api/v1/incidents?status=closed", 400, nil},
		{"/api/v1/incidents?sevice=checkout", 400, nil},
		{"/api/v1/incidents?limit=0", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := env.do(t, "GET", tt.path, "", viewer)
			if tt.status != 200 {
				e := wantError(t, rec, tt.status)
				if e.Message == "" {
					t.Error("error without message")
				}
				return
			}
			wantStatus(t, rec, 200)
			var got struct{ Incidents []incident.Incident }
			mustJSON(t, rec, &got)
			var ids []string
			for _, inc := range got.Incidents {
				ids = append(ids, inc.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ids %v, want %v", ids, tt.want)
			}
		})
	}
	if f.query.Limit != defaultListLimit {
		t.Errorf("last query limit %d, want the default %d", f.query.Limit, defaultListLimit)
	}

	rec := env.do(t, "GET", "/api/v1/incidents/inc-1", "", viewer)
	wantStatus(t, rec, 200)
	var one struct{ Incident incident.Incident }
	mustJSON(t, rec, &one)
	if one.Incident.ID != "inc-1" || one.Incident.Status != incident.StatusOpen {
		t.Errorf("get: %+v", one.Incident)
	}
	e := wantError(t, env.do(t, "GET", "/api/v1/incidents/nope", "", viewer), 404)
	if !strings.Contains(e.Message, "nope") {
		t.Errorf("404 message %q does not name the ID", e.Message)
	}
	rec = env.do(t, "GET", "/api/v1/incidents/inc-1/timeline", "", viewer)
	wantStatus(t, rec, 200)
	var tl struct{ Entries []incident.Entry }
	mustJSON(t, rec, &tl)
	if len(tl.Entries) != 1 || tl.Entries[0].Text != "opened" {
		t.Errorf("timeline %+v", tl.Entries)
	}
	wantError(t, env.do(t, "GET", "/api/v1/incidents/nope/timeline", "", viewer), 404)
	wantError(t, env.do(t, "GET", "/api/v1/incidents/"+strings.Repeat("x", 200), "", viewer), 400)
}

func TestIncidentChanges(t *testing.T) {
	env, f := incidentsEnv(t)
	viewer, op := env.secrets[store.RoleViewer], env.secrets[store.RoleOperator]
	tests := []struct {
		name, path, body, secret string
		status                   int
	}{
		{"viewer cannot ack", "/api/v1/incidents/inc-1/ack", "", viewer, 403},
		{"bare ack", "/api/v1/incidents/inc-1/ack", "", op, 200},
		{"ack with text", "/api/v1/incidents/inc-1/ack", `{"text":"on it"}`, op, 200},
		{"ack of a resolved incident", "/api/v1/incidents/inc-2/ack", "", op, 409},
		{"ack of a missing incident", "/api/v1/incidents/nope/ack", "", op, 404},
		{"ack with unknown field", "/api/v1/incidents/inc-1/ack", `{"txt":"x"}`, op, 400},
		{"note", "/api/v1/incidents/inc-1/notes", `{"text":"db failover started"}`, op, 201},
		{"empty note", "/api/v1/incidents/inc-1/notes", `{"text":"  "}`, op, 400},
		{"note without body", "/api/v1/incidents/inc-1/notes", "", op, 400},
		{"too long note", "/api/v1/incidents/inc-1/notes", `{"text":"` + strings.Repeat("a", maxNoteLen+1) + `"}`, op, 400},
		{"feedback", "/api/v1/incidents/inc-1/feedback", `{"verdict":"false_positive"}`, op, 200},
		{"feedback on a signal", "/api/v1/incidents/inc-1/feedback", `{"verdict":"true_positive","signal":"alert:1"}`, op, 200},
		{"feedback on an unknown signal", "/api/v1/incidents/inc-1/feedback", `{"verdict":"true_positive","signal":"alert:9"}`, op, 400},
		{"bad verdict", "/api/v1/incidents/inc-1/feedback", `{"verdict":"meh"}`, op, 400},
		{"merge into a missing incident", "/api/v1/incidents/inc-2/merge", `{"into":"nope"}`, op, 404},
		{"merge without into", "/api/v1/incidents/inc-2/merge", `{}`, op, 400},
		{"merge", "/api/v1/incidents/inc-2/merge", `{"into":"inc-1"}`, op, 200},
		{"split", "/api/v1/incidents/inc-1/split", `{"signals":["alert:1"]}`, op, 201},
		{"split of nothing", "/api/v1/incidents/inc-1/split", `{"signals":[]}`, op, 400},
		{"split with a wrong type", "/api/v1/incidents/inc-1/split", `{"signals":"alert:1"}`, op, 400},
		{"resolve", "/api/v1/incidents/inc-1/resolve", `{"text":"fixed"}`, op, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := env.do(t, "POST", tt.path, tt.body, tt.secret)
			if tt.status >= 400 {
				wantError(t, rec, tt.status)
				return
			}
			wantStatus(t, rec, tt.status)
			var got struct{ Incident incident.Incident }
			mustJSON(t, rec, &got)
			if got.Incident.ID == "" {
				t.Errorf("answer without incident: %s", rec.Body)
			}
		})
	}
	f.mtx.Lock()
	defer f.mtx.Unlock()
	if f.last.By != "operator" || !f.last.At.Equal(testStart) || f.last.Text != "fixed" {
		t.Errorf("last action %+v: want by operator at the server's clock with the text", f.last)
	}
	if f.verdict != incident.TruePositive || f.signal != "alert:1" || f.into != "inc-1" || !slices.Equal(f.split, []string{"alert:1"}) {
		t.Errorf("calls: verdict %q signal %q into %q split %v", f.verdict, f.signal, f.into, f.split)
	}
	if f.incs["inc-1"].Status != incident.StatusResolved || f.incs["inc-1"].AcknowledgedBy != "operator" {
		t.Errorf("inc-1 after the calls: %+v", f.incs["inc-1"])
	}
	if len(f.notes) != 1 || f.notes[0].Text != "db failover started" {
		t.Errorf("notes %+v", f.notes)
	}
}

// TestIncidentRoutesNeedOperatorForPOST checks every mutating route.
func TestIncidentRoutesNeedOperatorForPOST(t *testing.T) {
	env, _ := incidentsEnv(t)
	for _, p := range []string{"ack", "resolve", "notes", "feedback", "merge", "split"} {
		rec := env.do(t, http.MethodPost, "/api/v1/incidents/inc-1/"+p, `{}`, env.secrets[store.RoleViewer])
		wantError(t, rec, http.StatusForbidden)
	}
}
