package amapi

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// seed posts a fixed set of alerts: four firing, one resolved.
func seed(t testing.TB, f *fixture) {
	t.Helper()
	body := `[
	{"labels":{"alertname":"HighLatency","severity":"critical","service":"checkout"},"annotations":{"summary":"slow"},"generatorURL":"http://prom/g1"},
	{"labels":{"alertname":"HighErrorRate","severity":"critical-ish","service":"cart"}},
	{"labels":{"alertname":"DiskFull","severity":"warning","team":"infra"}},
	{"labels":{"alertname":"Foo Bar"}},
	{"labels":{"alertname":"Gone","severity":"critical"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T09:30:00Z"}
	]`
	if w := f.post(t, body); w.Code != 200 {
		t.Fatalf("seed: %d %s", w.Code, w.Body)
	}
}

func TestGetAlertsFilters(t *testing.T) {
	f := newFixture(t, nil)
	seed(t, f)
	all := []string{"DiskFull", "Foo Bar", "HighErrorRate", "HighLatency"}
	tests := []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"no filter", nil, all},
		{"equal", url.Values{"filter": {`alertname="HighLatency"`}}, []string{"HighLatency"}},
		{"equal unquoted", url.Values{"filter": {`alertname=DiskFull`}}, []string{"DiskFull"}},
		{"classic fallback with space", url.Values{"filter": {`alertname=Foo Bar`}}, []string{"Foo Bar"}},
		{"not equal includes absent", url.Values{"filter": {`severity!="critical"`}}, []string{"DiskFull", "Foo Bar", "HighErrorRate"}},
		{"regexp anchored", url.Values{"filter": {`severity=~"crit.*"`}}, []string{"HighErrorRate", "HighLatency"}},
		{"regexp anchored both ends", url.Values{"filter": {`severity=~"critical"`}}, []string{"HighLatency"}},
		{"not regexp", url.Values{"filter": {`severity!~"crit.*"`}}, []string{"DiskFull", "Foo Bar"}},
		{"braces", url.Values{"filter": {`{service="cart"}`}}, []string{"HighErrorRate"}},
		{"several in one", url.Values{"filter": {`{severity=~"crit.*",service="checkout"}`}}, []string{"HighLatency"}},
		{"filters ANDed", url.Values{"filter": {`severity=~"crit.*"`, `service="cart"`}}, []string{"HighErrorRate"}},
		{"ANDed to nothing", url.Values{"filter": {`severity="warning"`, `service="cart"`}}, nil},
		{"empty value selects absent", url.Values{"filter": {`team=""`}}, []string{"Foo Bar", "HighErrorRate", "HighLatency"}},
		{"not empty selects present", url.Values{"filter": {`team!=""`}}, []string{"DiskFull"}},
		{"empty filter", url.Values{"filter": {``}}, all},
		{"amtool defaults", url.Values{"active": {"true"}, "silenced": {"false"}, "inhibited": {"false"}, "unprocessed": {"false"}}, all},
		{"not active", url.Values{"active": {"false"}}, nil},
		{"only silenced", url.Values{"active": {"false"}, "silenced": {"true"}}, nil},
		{"receiver exact", url.Values{"receiver": {"vigil"}}, all},
		{"receiver regexp", url.Values{"receiver": {"vi.*"}}, all},
		{"receiver anchored", url.Values{"receiver": {"vig"}}, nil},
		{"receiver other", url.Values{"receiver": {"pagerduty"}}, nil},
		{"receiver empty", url.Values{"receiver": {""}}, all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := names(f.list(t, tc.query.Encode()))
			sort.Strings(got)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGetAlertsErrors(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name  string
		query url.Values
		want  string
	}{
		{"no operator", url.Values{"filter": {`foo`}}, "bad matcher format"},
		{"bad regexp", url.Values{"filter": {`a=~"("`}}, "error parsing regexp"},
		{"unterminated", url.Values{"filter": {`a="b`}}, "bad matcher format"},
		{"second filter bad", url.Values{"filter": {`a="b"`, `c=`, `{`}}, "bad matcher format"},
		{"bad bool", url.Values{"active": {"yes please"}}, "active in query must be of type boolean"},
		{"bad receiver", url.Values{"receiver": {"("}}, "failed to parse receiver param"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(t, "GET", "/api/v2/alerts?"+tc.query.Encode(), nil)
			if w.Code != 400 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			// Alertmanager answers a JSON string, which is what amtool's
			// client decodes.
			var msg string
			if err := json.Unmarshal(w.Body.Bytes(), &msg); err != nil {
				t.Fatalf("body %q is not a JSON string: %v", w.Body, err)
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q, want it to contain %q", msg, tc.want)
			}
		})
	}
}

func TestGetAlertsShape(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ReceiverName = "team-x" })
	if w := f.do(t, "GET", "/api/v2/alerts", nil); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Fatalf("empty state: %d %q, want 200 []", w.Code, w.Body)
	}
	body := `[{"labels":{"alertname":"HighLatency","service":"checkout"},"annotations":{"summary":"slow"},` +
		`"startsAt":"2024-05-01T09:59:00.123456Z","generatorURL":"http://prom/graph?g0.expr=up"},{"labels":{"alertname":"Other"}}]`
	if w := f.post(t, body); w.Code != 200 {
		t.Fatalf("post: %d %s", w.Code, w.Body)
	}
	got := f.list(t, "")
	if len(got) != 2 {
		t.Fatalf("listed %d alerts", len(got))
	}
	if got[0].Fingerprint >= got[1].Fingerprint {
		t.Errorf("not sorted by fingerprint: %s, %s", got[0].Fingerprint, got[1].Fingerprint)
	}
	var a gettableAlertJSON
	for _, g := range got {
		if g.Labels["alertname"] == "HighLatency" {
			a = g
		}
	}
	fp := telemetry.LabelsFromStrings("alertname", "HighLatency", "service", "checkout").Fingerprint().String()
	want := gettableAlertJSON{
		Annotations:  map[string]string{"summary": "slow"},
		EndsAt:       "2024-05-01T10:05:00.000Z",
		Fingerprint:  fp,
		Receivers:    []receiverRef{{Name: "team-x"}},
		StartsAt:     "2024-05-01T09:59:00.123Z",
		Status:       alertStatus{State: "active", SilencedBy: []string{}, InhibitedBy: []string{}, MutedBy: []string{}},
		UpdatedAt:    "2024-05-01T10:00:00.000Z",
		GeneratorURL: "http://prom/graph?g0.expr=up",
		Labels:       map[string]string{"alertname": "HighLatency", "service": "checkout"},
	}
	if mustJSON(t, a) != mustJSON(t, want) {
		t.Fatalf("got  %s\nwant %s", mustJSON(t, a), mustJSON(t, want))
	}
	// Arrays and objects are present even when empty, as the models require.
	w := f.do(t, "GET", "/api/v2/alerts?filter=alertname%3D%22Other%22", nil)
	for _, key := range []string{`"annotations":{}`, `"silencedBy":[]`, `"inhibitedBy":[]`, `"mutedBy":[]`} {
		if !strings.Contains(w.Body.String(), key) {
			t.Errorf("answer %s lacks %s", w.Body, key)
		}
	}
	if strings.Contains(w.Body.String(), "generatorURL") {
		t.Errorf("empty generatorURL rendered: %s", w.Body)
	}
}

func TestResolutionByEndsAt(t *testing.T) {
	f := newFixture(t, nil)
	if w := f.post(t, `[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"},"endsAt":"2024-05-01T11:00:00Z"}]`); w.Code != 200 {
		t.Fatalf("post: %d %s", w.Code, w.Body)
	}
	if got := names(f.list(t, "")); len(got) != 2 {
		t.Fatalf("listed %v", got)
	}
	// An explicit endsAt in the past resolves A at once.
	f.clock.Advance(time.Minute)
	if w := f.post(t, `[{"labels":{"alertname":"A"},"endsAt":"2024-05-01T10:00:30Z"}]`); w.Code != 200 {
		t.Fatalf("resolve: %d %s", w.Code, w.Body)
	}
	if got := names(f.list(t, "")); len(got) != 1 || got[0] != "B" {
		t.Fatalf("after resolving A: %v", got)
	}
	// A stale firing copy of A (as the bus may deliver late) does not
	// bring it back.
	stale := alert("A", t0, t0.Add(DefaultResolveTimeout))
	stale.UpdatedAt = t0
	if err := f.r.State().Update([]telemetry.Alert{stale}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := names(f.list(t, "")); len(got) != 1 || got[0] != "B" {
		t.Fatalf("after a stale copy of A: %v", got)
	}
	// B ends at its own endsAt; an alert without one would end after the
	// resolve timeout.
	f.clock.Advance(time.Hour)
	if got := f.list(t, ""); len(got) != 0 {
		t.Fatalf("after B's endsAt: %v", names(got))
	}
}
