package app

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigilops/vigil/incident"
)

// TestDemoOpensIncidents runs the demo fast until the first injected fault
// has begun and checks that an incident naming its root-cause service (or
// one it affects) opens, with a timeline.
func TestDemoOpensIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for several seconds")
	}
	cfg := testConfig(t)
	cfg.Demo.Enabled = true
	cfg.Demo.Speed = 3600
	cfg.API.AnonymousRole = "viewer"
	a, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	base := "http://" + a.Addr().String()

	deadline := time.Now().Add(60 * time.Second)
	var found *incident.Incident
	var truthSvcs map[string]bool
	for found == nil {
		if time.Now().After(deadline) {
			_, body := get(t, base+"/api/v1/incidents", "")
			t.Fatalf("no incident on a faulty service within 60s; truth services %v; incidents: %.2000s", truthSvcs, body)
		}
		time.Sleep(250 * time.Millisecond)
		_, body := get(t, base+"/api/v1/demo", "")
		var st demoStatus
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		truthSvcs = map[string]bool{}
		for _, f := range st.Faults {
			if !f.Onset.Before(st.SimulatedTime) {
				continue
			}
			truthSvcs[f.RootCause] = true
			for _, s := range f.Affected {
				truthSvcs[s] = true
			}
		}
		if len(truthSvcs) == 0 {
			continue
		}
		code, body := get(t, base+"/api/v1/incidents", "")
		if code != 200 {
			t.Fatalf("incidents: %d %s", code, body)
		}
		var resp struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("decode incidents: %v: %.500s", err, body)
		}
		for i := range resp.Incidents {
			for _, s := range resp.Incidents[i].Services {
				if truthSvcs[s] {
					found = &resp.Incidents[i]
				}
			}
		}
	}
	code, body := get(t, base+"/api/v1/incidents/"+found.ID+"/timeline", "")
	if code != 200 {
		t.Fatalf("timeline: %d %s", code, body)
	}
	var tl struct {
		Entries []incident.Entry `json:"entries"`
	}
	if err := json.Unmarshal(body, &tl); err != nil {
		t.Fatalf("decode timeline: %v: %.500s", err, body)
	}
	if len(tl.Entries) == 0 {
		t.Fatalf("incident %s has an empty timeline: %s", found.ID, body)
	}
	// Both feeds reach the correlator: the simulated alerts and the log
	// anomalies detected from the simulated logs.
	kinds := map[incident.SignalKind]bool{}
	waitFor(t, "incident members from alerts and from anomalies", 60*time.Second, func() bool {
		_, body := get(t, base+"/api/v1/incidents?limit=1000", "")
		var resp struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		_ = json.Unmarshal(body, &resp)
		for _, inc := range resp.Incidents {
			for _, m := range inc.Members {
				kinds[m.Kind] = true
			}
		}
		return kinds[incident.SignalAlert] && kinds[incident.SignalAnomaly]
	})
}
