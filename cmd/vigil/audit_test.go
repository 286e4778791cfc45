package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilops/vigil/act/audit"
)

func TestAuditVerifyCmd(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, audit.DefaultFileName)
	lg, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []audit.Kind{audit.KindApprovalReq, audit.KindApproved, audit.KindExecution, audit.KindVerification} {
		if _, err := lg.Append(context.Background(), audit.Entry{Kind: k, Actor: "bob", Runbook: "redis-memory-scale-up"}); err != nil {
			t.Fatal(err)
		}
	}
	lg.Close()

	out, err := runActCmd(t, "audit", "verify", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "4 entries, chain intact") {
		t.Fatalf("verify = %q, %v", out, err)
	}
	out, err = runActCmd(t, "audit", "verify", "--file", path, "--json")
	var rep map[string]any
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep["ok"] != true || rep["entries"] != float64(4) {
		t.Fatalf("verify --json = %q, %v", out, err)
	}

	orig, _ := os.ReadFile(path)
	// Every single changed byte is detected and named by its line.
	for i := range orig {
		mod := append([]byte(nil), orig...)
		mod[i] ^= 0x01
		bad := filepath.Join(dir, "bad.jsonl")
		if err := os.WriteFile(bad, mod, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := runActCmd(t, "audit", "verify", "--file", bad)
		if !errors.Is(err, errAuditTampered) || exitCode(err) != exitError || !strings.Contains(err.Error(), " line ") {
			t.Fatalf("byte %d flipped: err = %v", i, err)
		}
	}
	if _, err := runActCmd(t, "audit", "verify", "--file", filepath.Join(dir, "missing.jsonl")); err == nil || errors.Is(err, errAuditTampered) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := runActCmd(t, "audit", "verify", "--file", path, "--data-dir", dir); exitCode(err) != exitUsage {
		t.Fatalf("both flags: %v", err)
	}
}
