package app

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate/dispatch"
	"github.com/vigilops/vigil/telemetry"
)

// TestAMStatusConfigRoundTrips: the rendered tree parses again and routes
// as the original does, and no integration secret is in it.
func TestAMStatusConfigRoundTrips(t *testing.T) {
	src := `route:
  receiver: team
  group_by: [alertname]
  routes:
    - matchers: ['severity="page"']
      receiver: pager
      group_wait: 10s
      continue: true
    - matchers: ['service=~"db|cache"']
      receiver: dba
receivers:
  - name: team
  - name: pager
    webhook_configs: [{url: 'http://secret.example/hook'}]
  - name: dba
`
	am, err := config.ParseAlertmanagerConfig([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	built, err := dispatch.FromConfig(am, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := amStatusConfig(built.Route, []string{"team", "pager", "dba"}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "secret.example") {
		t.Fatalf("secret rendered:\n%s", out)
	}
	back, err := config.ParseAlertmanagerConfig([]byte(out))
	if err != nil {
		t.Fatalf("rendered config does not parse: %v\n%s", err, out)
	}
	rebuilt, err := dispatch.FromConfig(back, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ls := range []map[string]string{
		{"alertname": "A", "severity": "page", "service": "db"},
		{"alertname": "B", "service": "cache"},
		{"alertname": "C"},
	} {
		l := telemetry.LabelsFromMap(ls)
		var want, got []string
		for _, r := range built.Route.Match(l) {
			want = append(want, r.Receiver+"/"+r.GroupWait.String())
		}
		for _, r := range rebuilt.Route.Match(l) {
			got = append(got, r.Receiver+"/"+r.GroupWait.String())
		}
		if strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("%v routes to %v after the round trip, want %v", ls, got, want)
		}
	}
}
