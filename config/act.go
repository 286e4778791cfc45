package config

import (
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vigilops/vigil/act"
)

// Act configures guarded remediation: runbooks, the guard's limits,
// approvals and the executors.
type Act struct {
	// RunbooksDir holds the runbook files (*.yaml, *.yml). Empty: no
	// runbooks (the demo then uses its built-in one). A relative path is
	// taken from the directory of the Vigil configuration file.
	RunbooksDir string `yaml:"runbooks_dir"`
	// DryRun makes every execution a plan only. True by default so that a
	// new install changes nothing until someone decides it should.
	DryRun bool `yaml:"dry_run"`
	// KillSwitch starts with the kill switch engaged.
	KillSwitch bool `yaml:"kill_switch"`
	// MaxLevel caps every runbook's automation level (0 alert, 1 suggest,
	// 2 approve, 3 automatic when low risk, 4 automatic).
	MaxLevel int `yaml:"max_level"`
	// MinConfidence is the diagnosis confidence automatic runs need;
	// HighConfidence what level-4 runs of medium or high risk need.
	MinConfidence  float64 `yaml:"min_confidence"`
	HighConfidence float64 `yaml:"high_confidence"`
	// PerRunbookPerHour and GlobalPerHour bound executions in any hour.
	PerRunbookPerHour int `yaml:"per_runbook_per_hour"`
	GlobalPerHour     int `yaml:"global_per_hour"`
	// MaxTargets bounds the objects changed at once.
	MaxTargets int `yaml:"max_targets"`
	// MaxReplicaChangePercent bounds a replica change as a percentage of
	// the current count.
	MaxReplicaChangePercent float64 `yaml:"max_replica_change_percent"`
	// ChangeWindows, when any, are the only times automatic runs may start:
	// "mon-fri 09:00-17:00 Europe/Berlin".
	ChangeWindows []string `yaml:"change_windows"`
	// ApprovalTTL is how long an approval request stays open.
	ApprovalTTL Duration `yaml:"approval_ttl"`
	// VerifyTimeout applies to runbooks that set none.
	VerifyTimeout Duration `yaml:"verify_timeout"`
	Kube          ActKube  `yaml:"kube"`
	HTTP          ActHTTP  `yaml:"http"`
	Shell         ActShell `yaml:"shell"`
}

// ActKube configures the Kubernetes executor. It is enabled when
// kubeconfig is set or Vigil runs in a cluster (in-cluster service account).
type ActKube struct {
	Kubeconfig string `yaml:"kubeconfig"`
	// Namespaces, when any, are the only namespaces it acts in.
	Namespaces []string `yaml:"namespaces"`
}

// ActHTTP configures the webhook and job-API executor.
type ActHTTP struct {
	// AllowedHosts, when any, are the only hosts (host[:port]) it calls.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// ActShell configures the local command executor; it is enabled only with
// allowed commands.
type ActShell struct {
	AllowedCommands []string `yaml:"allowed_commands"`
}

func defaultAct() Act {
	return Act{
		DryRun:                  true,
		MaxLevel:                2,
		MinConfidence:           0.6,
		HighConfidence:          0.9,
		PerRunbookPerHour:       3,
		GlobalPerHour:           10,
		MaxTargets:              5,
		MaxReplicaChangePercent: 100,
		ApprovalTTL:             Duration(time.Hour),
		VerifyTimeout:           Duration(5 * time.Minute),
	}
}

// validate reports the problems of the act section through add.
func (a *Act) validate(add func(key, format string, args ...any)) {
	if a.RunbooksDir != "" {
		if st, err := os.Stat(a.RunbooksDir); err != nil {
			add("act.runbooks_dir", "%s", err)
		} else if !st.IsDir() {
			add("act.runbooks_dir", "%q is not a directory", a.RunbooksDir)
		}
	}
	if !act.Level(a.MaxLevel).Valid() {
		add("act.max_level", "%d is outside 0..4", a.MaxLevel)
	}
	if a.MinConfidence < 0 || a.MinConfidence > 1 {
		add("act.min_confidence", "%g is outside 0..1", a.MinConfidence)
	}
	if a.HighConfidence < 0 || a.HighConfidence > 1 {
		add("act.high_confidence", "%g is outside 0..1", a.HighConfidence)
	} else if a.MinConfidence >= 0 && a.MinConfidence <= 1 && a.HighConfidence < a.MinConfidence {
		add("act.high_confidence", "%g is below act.min_confidence %g", a.HighConfidence, a.MinConfidence)
	}
	if a.PerRunbookPerHour < 1 || a.PerRunbookPerHour > 1000 {
		add("act.per_runbook_per_hour", "%d is outside 1..1000", a.PerRunbookPerHour)
	}
	if a.GlobalPerHour < 1 || a.GlobalPerHour > 10_000 {
		add("act.global_per_hour", "%d is outside 1..10000", a.GlobalPerHour)
	}
	if a.MaxTargets < 1 || a.MaxTargets > 1000 {
		add("act.max_targets", "%d is outside 1..1000", a.MaxTargets)
	}
	if a.MaxReplicaChangePercent <= 0 || a.MaxReplicaChangePercent > 1000 {
		add("act.max_replica_change_percent", "%g is outside (0, 1000]", a.MaxReplicaChangePercent)
	}
	for i, w := range a.ChangeWindows {
		if _, err := act.ParseChangeWindow(w); err != nil {
			add("act.change_windows["+strconv.Itoa(i)+"]", "%s", err)
		}
	}
	if v := time.Duration(a.ApprovalTTL); v < time.Minute || v > 7*24*time.Hour {
		add("act.approval_ttl", "%s is outside 1m..7d", a.ApprovalTTL)
	}
	if v := time.Duration(a.VerifyTimeout); v < time.Second || v > 24*time.Hour {
		add("act.verify_timeout", "%s is outside 1s..24h", a.VerifyTimeout)
	}
	if a.Kube.Kubeconfig != "" {
		if _, err := os.Stat(a.Kube.Kubeconfig); err != nil {
			add("act.kube.kubeconfig", "%s", err)
		}
	}
	for i, ns := range a.Kube.Namespaces {
		if !rfc1123Label(ns) {
			add("act.kube.namespaces["+strconv.Itoa(i)+"]", "%q is not a valid namespace name", ns)
		}
	}
	for i, h := range a.HTTP.AllowedHosts {
		if h == "" {
			add("act.http.allowed_hosts["+strconv.Itoa(i)+"]", "empty host")
		}
	}
	for i, c := range a.Shell.AllowedCommands {
		if c == "" {
			add("act.shell.allowed_commands["+strconv.Itoa(i)+"]", "empty command")
		}
	}
}

// ResolveRunbooksDir makes act.runbooks_dir relative to the directory of
// the configuration file it came from (cfgPath, "" for none).
func (a *Act) ResolveRunbooksDir(cfgPath string) {
	if cfgPath != "" && a.RunbooksDir != "" && !filepath.IsAbs(a.RunbooksDir) {
		a.RunbooksDir = filepath.Join(filepath.Dir(cfgPath), a.RunbooksDir)
	}
}

// rfc1123Label reports whether s is a DNS label: what Kubernetes allows
// as a namespace name.
func rfc1123Label(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}
