package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runMain runs the root command as main does and returns what it printed
// and its exit code.
func runMain(t *testing.T, argv ...string) (stdout, stderr string, code int) {
	t.Helper()
	root, out, errOut := testRoot("", argv)
	code = run(root, errOut)
	return out.String(), errOut.String(), code
}

// TestErrorsNameTheCommandOnce runs failing command lines as main does and
// checks that the printed error names the failing command exactly once.
func TestErrorsNameTheCommandOnce(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		argv []string
		cmd  string // the failing command's path below the root
		code int
		want string
	}{
		{"usage error with the path", []string{"metrics", "detect", "--threshold", "3", "x.csv"}, "metrics detect", exitUsage, "--threshold 3 is outside [0,1]"},
		{"flag error", []string{"metrics", "detect", "--bogus"}, "metrics detect", exitUsage, "unknown flag: --bogus"},
		{"file error", []string{"metrics", "detect", dir + "/none.csv"}, "metrics detect", exitError, "no such file"},
		{"forecast file error", []string{"forecast", dir + "/none.csv"}, "forecast", exitError, "no such file"},
		{"rules generate without -f", []string{"rules", "generate"}, "rules generate", exitUsage, "-f SPEC is required"},
		{"rules check on a missing spec", []string{"rules", "check", "-f", dir + "/none.yaml"}, "rules check", exitError, "read spec"},
		{"sim with an unknown scenario", []string{"sim", "--scenario", "meteor", "--out", dir}, "sim", exitUsage, `--scenario "meteor" is not a known scenario`},
		{"sim without --out", []string{"sim", "--scenario", "redis-memory"}, "sim", exitUsage, "--scenario and --out are required"},
		{"slo budget without --objective", []string{"slo", "budget"}, "slo budget", exitUsage, "--objective PERCENT is required"},
		{"unknown subcommand", []string{"metrics", "detectt"}, "metrics", exitUsage, "did you mean detect?"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runMain(t, tc.argv...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			line := strings.TrimSuffix(stderr, "\n")
			if strings.Contains(line, "\n") {
				t.Fatalf("want one line, got %q", stderr)
			}
			prefix := "vigil " + tc.cmd + ": "
			rest, ok := strings.CutPrefix(line, prefix)
			if !ok {
				t.Fatalf("%q does not start with %q", line, prefix)
			}
			// The name may come back later only in the --help hint.
			rest, _, _ = strings.Cut(rest, "(see vigil ")
			if strings.Contains(rest, tc.cmd+":") || strings.HasPrefix(rest, "vigil") {
				t.Errorf("%q names the command more than once", line)
			}
			if !strings.Contains(line, tc.want) {
				t.Errorf("%q lacks %q", line, tc.want)
			}
			if strings.Contains(line, "fault 0") {
				t.Errorf("%q speaks of the simulator's internal fault index", line)
			}
		})
	}
}

func TestErrorLine(t *testing.T) {
	root := &cobra.Command{Use: "vigil"}
	rules := &cobra.Command{Use: "rules"}
	gen := &cobra.Command{Use: "generate", Run: func(*cobra.Command, []string) {}}
	root.AddCommand(rules)
	rules.AddCommand(gen)
	tests := []struct {
		name string
		c    *cobra.Command
		err  string
		want string
	}{
		{"bare", gen, "boom", "vigil rules generate: boom"},
		{"short name", gen, "rules generate: boom", "vigil rules generate: boom"},
		{"full path", gen, "vigil rules generate: boom", "vigil rules generate: boom"},
		{"nested", gen, "rules generate: vigil rules generate: -f SPEC is required", "vigil rules generate: -f SPEC is required"},
		{"program name", gen, "vigil: boom", "vigil rules generate: boom"},
		{"other prefixes stay", gen, "read spec: rules generate: x", "vigil rules generate: read spec: rules generate: x"},
		{"parent's name stays", gen, "rules: x", "vigil rules generate: rules: x"},
		{"root", root, `unknown command "x" for "vigil"` + "\n", `vigil: unknown command "x" for "vigil"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorLine(tc.c, errors.New(tc.err)); got != tc.want {
				t.Errorf("errorLine(%q) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// TestUnknownTopLevelCommand is a usage error, not a failure.
func TestUnknownTopLevelCommand(t *testing.T) {
	_, stderr, code := runMain(t, "metrix")
	if code != exitUsage || !strings.HasPrefix(stderr, `vigil: unknown command "metrix"`) || !strings.Contains(stderr, "metrics") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestGroupCommands checks that a command that only groups others shows
// them in its usage, prints its help when called bare, and rejects a
// subcommand it does not have.
func TestGroupCommands(t *testing.T) {
	for _, group := range []string{"metrics", "slo", "rules"} {
		t.Run(group, func(t *testing.T) {
			out, stderr, code := runMain(t, group, "--help")
			if code != exitOK || stderr != "" {
				t.Fatalf("--help: exit %d, stderr %q", code, stderr)
			}
			if !strings.Contains(out, "vigil "+group+" [command]") || strings.Contains(out, "vigil "+group+" [flags]") {
				t.Errorf("usage should show the subcommands, not a bare call:\n%s", out)
			}
			bare, stderr, code := runMain(t, group)
			if code != exitOK || stderr != "" || bare != out {
				t.Errorf("bare call: exit %d, stderr %q, output differs from --help:\n%s", code, stderr, bare)
			}
			_, stderr, code = runMain(t, group, "nope")
			if code != exitUsage || !strings.HasPrefix(stderr, "vigil "+group+`: unknown command "nope"`) || !strings.Contains(stderr, "its commands: ") {
				t.Errorf("unknown subcommand: exit %d, stderr %q", code, stderr)
			}
		})
	}
	// A subcommand keeps its own usage line under the group's template.
	out, _, code := runMain(t, "metrics", "detect", "--help")
	if code != exitOK || !strings.Contains(out, "vigil metrics detect [FILE.csv]") {
		t.Errorf("metrics detect --help (exit %d):\n%s", code, out)
	}
}
