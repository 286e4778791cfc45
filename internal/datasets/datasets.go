// Package datasets finds the shared evaluation datasets for tests and
// benchmarks: $VIGIL_DATASETS, else ../shared/datasets beside the module
// root. Tests that need one skip cleanly when it is absent, so that
// `go test ./...` needs nothing but Go.
package datasets

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvVar names the environment variable that points at the datasets folder.
const EnvVar = "VIGIL_DATASETS"

// Root returns the datasets folder, or "" when it cannot be found.
func Root() string {
	if d := os.Getenv(EnvVar); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "datasets")
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// Dir returns the named dataset folder (e.g. "loghub-2k", "hdfs"), or skips
// tb with the reason when it is absent.
func Dir(tb testing.TB, name string) string {
	tb.Helper()
	root := Root()
	if root == "" {
		tb.Skipf("needs the %s dataset: module root not found (set %s)", name, EnvVar)
	}
	p := filepath.Join(root, name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("needs the %s dataset (set %s): %s not found", name, EnvVar, p)
	}
	return p
}
