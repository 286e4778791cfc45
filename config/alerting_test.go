package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadAlertingExample(t *testing.T) {
	c, err := Load("testdata/alerting.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("testdata", "alertmanager.yml"); c.Alerting.ConfigFile != want {
		t.Errorf("alerting.config_file = %q, want %q (relative to the config file)", c.Alerting.ConfigFile, want)
	}
	if got := c.Incidents.TopologyEdges(); len(got) != 2 || got[1] != [2]string{"checkout", "payments"} {
		t.Errorf("incidents.topology = %v", got)
	}
	if time.Duration(c.Notify.FlushInterval) != 10*time.Second || c.Incidents.MinSignals != 2 || c.Alerting.MaxAlerts != 500_000 {
		t.Errorf("values: %+v %+v %+v", c.Notify, c.Incidents, c.Alerting)
	}
}

func TestAlertingDefaults(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"alerting.max_alerts", c.Alerting.MaxAlerts, 500_000},
		{"alerting.silences.retention", time.Duration(c.Alerting.Silences.Retention), 120 * time.Hour},
		{"alerting.silences.max_silences", c.Alerting.Silences.MaxSilences, 10_000},
		{"notify.flush_interval", time.Duration(c.Notify.FlushInterval), 10 * time.Second},
		{"notify.log_retention", time.Duration(c.Notify.LogRetention), 120 * time.Hour},
		{"incidents.enabled", c.Incidents.Enabled, true},
		{"incidents.min_signals", c.Incidents.MinSignals, 2},
		{"incidents.group_window", time.Duration(c.Incidents.GroupWindow), 10 * time.Minute},
		{"incidents.quiet_period", time.Duration(c.Incidents.QuietPeriod), 10 * time.Minute},
		{"slo.interval", time.Duration(c.SLO.Interval), time.Minute},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestAlertingErrorsNameKey(t *testing.T) {
	tests := []struct {
		name, yaml, env, want string
	}{
		{"max alerts", "alerting:\n  max_alerts: 0\n", "", "x.yml:2: alerting.max_alerts: 0 is outside"},
		{"external url", "alerting:\n  external_url: ftp://x\n", "", "x.yml:2: alerting.external_url:"},
		{"negative silence", "alerting:\n  silences:\n    max_duration: -1h\n", "", "alerting.silences.max_duration"},
		{"flush interval", "notify:\n  flush_interval: 1ms\n", "", "x.yml:2: notify.flush_interval: 1ms is outside"},
		{"min signals", "incidents:\n  min_signals: 0\n", "", "x.yml:2: incidents.min_signals"},
		{"topology pair", "incidents:\n  topology:\n    - [a]\n", "", "x.yml:3: incidents.topology[0]: want a pair"},
		{"slo interval", "slo:\n  interval: 2h\n", "", "x.yml:2: slo.interval"},
		{"env override", "", "VIGIL_INCIDENTS_MIN_SIGNALS=0", "env VIGIL_INCIDENTS_MIN_SIGNALS: incidents.min_signals"},
		{"unknown key", "incidents:\n  min_signal: 3\n", "", "x.yml:2: incidents.min_signal: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env []string
			if tt.env != "" {
				env = []string{tt.env}
			}
			_, err := Parse("x.yml", []byte(tt.yaml), env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("not ErrInvalid: %v", err)
			}
		})
	}
}

func TestEnvOverridesAlerting(t *testing.T) {
	c, err := Parse("", nil, []string{"VIGIL_ALERTING_CONFIG_FILE=/etc/am.yml", "VIGIL_NOTIFY_FLUSH_INTERVAL=30s", "VIGIL_INCIDENTS_ENABLED=false"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Alerting.ConfigFile != "/etc/am.yml" || time.Duration(c.Notify.FlushInterval) != 30*time.Second || c.Incidents.Enabled {
		t.Fatalf("env not applied: %+v %+v %+v", c.Alerting, c.Notify, c.Incidents)
	}
}

func TestLoadChecksAlertmanagerFile(t *testing.T) {
	dir := t.TempDir()
	am, err := os.ReadFile("testdata/alertmanager_bad.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), am, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(cfgPath, []byte("alerting:\n  config_file: am.yml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(cfgPath, nil)
	// The routing file's own file:line error, not just "invalid".
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "am.yml")+":2:") || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("got %v", err)
	}
	if err := os.WriteFile(cfgPath, []byte("alerting:\n  config_file: missing.yml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = Load(cfgPath, nil); err == nil || !strings.Contains(err.Error(), "alerting.config_file") {
		t.Fatalf("missing file: got %v", err)
	}
}
