package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestActDefaults(t *testing.T) {
	a := defaultAct()
	if !a.DryRun || a.KillSwitch || a.MaxLevel != 2 || a.MinConfidence != 0.6 || a.HighConfidence != 0.9 ||
		a.PerRunbookPerHour != 3 || a.GlobalPerHour != 10 || a.MaxTargets != 5 || a.MaxReplicaChangePercent != 100 ||
		time.Duration(a.ApprovalTTL) != time.Hour || time.Duration(a.VerifyTimeout) != 5*time.Minute || a.RunbooksDir != "" {
		t.Fatalf("defaults: %+v", a)
	}
	if ps := sectionProblems(a.validate); len(ps) > 0 {
		t.Fatalf("defaults invalid: %q", ps)
	}
}

func TestActValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(a *Act)
		want   string
	}{
		{"runbooks dir ok", func(a *Act) { a.RunbooksDir = dir }, ""},
		{"windows ok", func(a *Act) { a.ChangeWindows = []string{"mon-fri 09:00-17:00 UTC"} }, ""},
		{"runbooks dir missing", func(a *Act) { a.RunbooksDir = filepath.Join(dir, "nope") }, "act.runbooks_dir: "},
		{"runbooks dir is file", func(a *Act) { a.RunbooksDir = file }, "act.runbooks_dir: " + `"` + file + `" is not a directory`},
		{"max level", func(a *Act) { a.MaxLevel = 5 }, "act.max_level: 5 is outside 0..4"},
		{"negative level", func(a *Act) { a.MaxLevel = -1 }, "act.max_level"},
		{"min confidence", func(a *Act) { a.MinConfidence = 1.5 }, "act.min_confidence: 1.5 is outside"},
		{"high below min", func(a *Act) { a.HighConfidence = 0.5 }, "act.high_confidence: 0.5 is below"},
		{"per runbook", func(a *Act) { a.PerRunbookPerHour = 0 }, "act.per_runbook_per_hour"},
		{"global", func(a *Act) { a.GlobalPerHour = 0 }, "act.global_per_hour"},
		{"targets", func(a *Act) { a.MaxTargets = 0 }, "act.max_targets"},
		{"replica change", func(a *Act) { a.MaxReplicaChangePercent = 0 }, "act.max_replica_change_percent"},
		{"window", func(a *Act) { a.ChangeWindows = []string{"mon-fri 09:00-17:00", "someday"} }, "act.change_windows[1]: "},
		{"ttl", func(a *Act) { a.ApprovalTTL = Duration(time.Second) }, "act.approval_ttl: 1s is outside"},
		{"verify", func(a *Act) { a.VerifyTimeout = 0 }, "act.verify_timeout"},
		{"kubeconfig", func(a *Act) { a.Kube.Kubeconfig = filepath.Join(dir, "kc") }, "act.kube.kubeconfig: "},
		{"namespace", func(a *Act) { a.Kube.Namespaces = []string{"shop", "Bad_NS"} }, `act.kube.namespaces[1]: "Bad_NS" is not`},
		{"host", func(a *Act) { a.HTTP.AllowedHosts = []string{""} }, "act.http.allowed_hosts[0]"},
		{"command", func(a *Act) { a.Shell.AllowedCommands = []string{"/bin/true", ""} }, "act.shell.allowed_commands[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := defaultAct()
			tt.change(&a)
			ps := sectionProblems(a.validate)
			if tt.want == "" {
				if len(ps) > 0 {
					t.Fatalf("want valid, got %q", ps)
				}
				return
			}
			if len(ps) != 1 || !strings.HasPrefix(ps[0], tt.want) {
				t.Fatalf("got %q, want one problem starting %q", ps, tt.want)
			}
		})
	}
}

func TestActResolveRunbooksDir(t *testing.T) {
	tests := []struct{ cfg, dir, want string }{
		{"/etc/vigil/vigil.yml", "runbooks", filepath.Join("/etc/vigil", "runbooks")},
		{"/etc/vigil/vigil.yml", "/srv/runbooks", "/srv/runbooks"},
		{"", "runbooks", "runbooks"},
		{"/etc/vigil/vigil.yml", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.cfg+"|"+tt.dir, func(t *testing.T) {
			a := Act{RunbooksDir: tt.dir}
			a.ResolveRunbooksDir(tt.cfg)
			if a.RunbooksDir != tt.want {
				t.Fatalf("got %q, want %q", a.RunbooksDir, tt.want)
			}
		})
	}
}
