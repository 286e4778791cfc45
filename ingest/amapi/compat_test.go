package amapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/vigilops/vigil/telemetry"
)

// prometheusBatch builds what Prometheus' notifier sends for api_version v2
// (notifier.alertsToOpenAPIAlerts, then json.Marshal).
func prometheusBatch(now time.Time) models.PostableAlerts {
	mk := func(labels, annotations map[string]string, starts, ends time.Time, gen string) *models.PostableAlert {
		return &models.PostableAlert{
			Annotations: models.LabelSet(annotations),
			StartsAt:    strfmt.DateTime(starts),
			EndsAt:      strfmt.DateTime(ends),
			Alert: models.Alert{
				GeneratorURL: strfmt.URI(gen),
				Labels:       models.LabelSet(labels),
			},
		}
	}
	return models.PostableAlerts{
		mk(map[string]string{"alertname": "HighLatency", "job": "checkout", "severity": "page", "instance": "10.0.0.1:8080"},
			map[string]string{"summary": "p99 > 500ms", "description": "checkout is slow"},
			now.Add(-10*time.Minute), now.Add(4*time.Minute), "http://prometheus:9090/graph?g0.expr=up&g0.tab=1"),
		mk(map[string]string{"alertname": "Watchdog"}, nil, now.Add(-time.Hour), now.Add(4*time.Minute), ""),
		// Resolved: Prometheus sends endsAt at the resolution time.
		mk(map[string]string{"alertname": "Flapping", "job": "cart"}, map[string]string{"summary": "x"},
			now.Add(-20*time.Minute), now.Add(-time.Minute), "http://prometheus:9090/graph"),
	}
}

func TestCompatPrometheusToAmtool(t *testing.T) {
	f := newFixture(t, nil)
	batch := prometheusBatch(t0)
	for i, pa := range batch {
		if err := pa.Validate(strfmt.Default); err != nil {
			t.Fatalf("test batch %d is not a valid PostableAlert: %v", i, err)
		}
	}
	body, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	if w := f.do(t, "POST", "/api/v2/alerts", body, "Content-Type", "application/json", "User-Agent", "Prometheus/2.42.0"); w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("POST: %d %q", w.Code, w.Body)
	}
	if n := len(f.sink.got()); n != 3 {
		t.Fatalf("sink got %d alerts, want 3 (the resolved one too)", n)
	}

	w := f.do(t, "GET", "/api/v2/alerts?active=true&silenced=false&inhibited=false&unprocessed=false", nil)
	var got models.GettableAlerts
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode GettableAlerts: %v\n%s", err, w.Body)
	}
	if len(got) != 2 {
		t.Fatalf("listed %d alerts, want the 2 firing", len(got))
	}
	if err := got.Validate(strfmt.Default); err != nil {
		t.Fatalf("GettableAlerts.Validate: %v\n%s", err, w.Body)
	}
	byName := map[string]*models.GettableAlert{}
	for _, ga := range got {
		byName[ga.Labels["alertname"]] = ga
	}
	hl := byName["HighLatency"]
	if hl == nil {
		t.Fatalf("HighLatency missing: %s", w.Body)
	}
	src := batch[0]
	wantFP := telemetry.LabelsFromMap(src.Labels).Fingerprint().String()
	switch {
	case *hl.Fingerprint != wantFP:
		t.Errorf("fingerprint %s, want %s", *hl.Fingerprint, wantFP)
	case !time.Time(*hl.StartsAt).Equal(time.Time(src.StartsAt)):
		t.Errorf("startsAt %v, want %v", hl.StartsAt, src.StartsAt)
	case !time.Time(*hl.EndsAt).Equal(time.Time(src.EndsAt)):
		t.Errorf("endsAt %v, want %v", hl.EndsAt, src.EndsAt)
	case !time.Time(*hl.UpdatedAt).Equal(t0):
		t.Errorf("updatedAt %v", hl.UpdatedAt)
	case hl.GeneratorURL != src.GeneratorURL:
		t.Errorf("generatorURL %q", hl.GeneratorURL)
	case len(hl.Receivers) != 1 || *hl.Receivers[0].Name != DefaultReceiverName:
		t.Errorf("receivers %v", hl.Receivers)
	case *hl.Status.State != models.AlertStatusStateActive:
		t.Errorf("state %s", *hl.Status.State)
	case mustJSON(t, hl.Labels) != mustJSON(t, src.Labels) || mustJSON(t, hl.Annotations) != mustJSON(t, src.Annotations):
		t.Errorf("labels %v annotations %v", hl.Labels, hl.Annotations)
	}
	if wd := byName["Watchdog"]; wd == nil || wd.Annotations == nil {
		t.Errorf("Watchdog: %+v", wd)
	}
}

// TestCompatVmalert posts the body vmalert renders (its
// alertmanager_request template: RFC 3339 nano times, zone offsets).
func TestCompatVmalert(t *testing.T) {
	f := newFixture(t, nil)
	body := `[
{
    "startsAt":"2024-05-01T11:55:00.123456789+02:00",
    "generatorURL": "http://vmalert:8880/vmalert/alert?group_id=1&alert_id=2",
    "endsAt":"2024-05-01T12:05:00.5+02:00",
    "labels": {"alertname":"DiskFull","alertgroup":"node","instance":"n1"},
    "annotations": {"summary":"disk 95%"}
}
,
{
    "startsAt":"2024-05-01T09:00:00Z",
    "generatorURL": "http://vmalert:8880/vmalert/alert?group_id=1&alert_id=3",
    "endsAt":"2024-05-01T09:59:00Z",
    "labels": {"alertname":"Resolved"},
    "annotations": {}
}
]`
	if w := f.post(t, body); w.Code != 200 {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	got := f.sink.got()
	if len(got) != 2 || !got[0].StartsAt.Equal(time.Date(2024, 5, 1, 9, 55, 0, 123456789, time.UTC)) {
		t.Fatalf("sink %+v", got)
	}
	if l := f.list(t, ""); len(l) != 1 || l[0].Labels["alertname"] != "DiskFull" || l[0].StartsAt != "2024-05-01T09:55:00.123Z" {
		t.Fatalf("listed %+v", l)
	}
}

func TestCompatStatusModels(t *testing.T) {
	f := newFixture(t, nil)
	var st models.AlertmanagerStatus
	w := f.do(t, "GET", "/api/v2/status", nil)
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if err := st.Validate(strfmt.Default); err != nil {
		t.Fatalf("AlertmanagerStatus.Validate: %v\n%s", err, w.Body)
	}
	if *st.Cluster.Status != models.ClusterStatusStatusDisabled || *st.VersionInfo.Version != "test" || *st.Config.Original == "" {
		t.Errorf("status %s", w.Body)
	}

	var rs []*models.Receiver
	if err := json.Unmarshal(f.do(t, "GET", "/api/v2/receivers", nil).Body.Bytes(), &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Validate(strfmt.Default) != nil || *rs[0].Name != DefaultReceiverName {
		t.Fatalf("receivers %+v", rs)
	}
}

// TestCompatDecodeLikeModels checks that bodies the models accept decode to
// the same alert here.
func TestCompatDecodeLikeModels(t *testing.T) {
	bodies := []string{
		`{"labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00.000Z","endsAt":"2024-05-01T10:00:00Z"}`,
		`{"labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00.123456+01:00"}`,
		`{"labels":{"a":"b"},"annotations":{"s":"é\"\\"},"generatorURL":"http://x/?a=b&c=d"}`,
		`{"labels":{"a":"b"},"startsAt":"0001-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00.000Z"}`,
	}
	for _, b := range bodies {
		t.Run(b, func(t *testing.T) {
			var m models.PostableAlert
			if err := json.Unmarshal([]byte(b), &m); err != nil {
				t.Fatalf("models: %v", err)
			}
			var p postableAlert
			if err := json.Unmarshal([]byte(b), &p); err != nil {
				t.Fatalf("ours: %v", err)
			}
			if !time.Time(m.StartsAt).Equal(time.Time(p.StartsAt)) || !time.Time(m.EndsAt).Equal(time.Time(p.EndsAt)) ||
				mustJSON(t, m.Labels) != mustJSON(t, p.Labels) || mustJSON(t, m.Annotations) != mustJSON(t, p.Annotations) ||
				string(m.GeneratorURL) != p.GeneratorURL {
				t.Fatalf("models %+v, ours %+v", m, p)
			}
		})
	}
}
