// Command vigil is the AIOps engine's single binary: `vigil serve` runs the
// pipeline; the other subcommands work on files and the data directory.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/config"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the module build information.
var version = ""

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1 // the command failed
	exitUsage   = 2 // bad flags or arguments
	exitInvalid = 3 // the configuration is invalid
)

// usageError marks errors in how the command was called.
type usageError struct{ error }

func main() {
	os.Exit(run(newRootCmd(), os.Stderr))
}

// run executes root and prints its error, if any, to stderr as one line;
// it returns the exit code.
func run(root *cobra.Command, stderr io.Writer) int {
	c, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var ue usageError
	if !c.HasParent() && !errors.As(err, &ue) {
		// The root runs nothing itself: an error that stops there is
		// cobra's own, an unknown command.
		err = usageError{err}
	}
	fmt.Fprintln(stderr, errorLine(c, err))
	return exitCode(err)
}

// errorLine is how err from command c is shown: prefixed once with the
// command's path ("vigil metrics detect: ..."). Commands wrap their errors
// with their own name, some as "metrics detect: ", usage errors with the
// full path, and a wrapper may add one in front of another; printing
// those as they are would name the command two or three times, so copies
// of the name at the front are dropped before the path is put back once.
func errorLine(c *cobra.Command, err error) string {
	path := c.CommandPath()
	rootName := c.Root().Name()
	prefixes := []string{path + ": ", rootName + ": "}
	if rel, ok := strings.CutPrefix(path, rootName+" "); ok {
		prefixes = append(prefixes, rel+": ")
	}
	msg := strings.TrimRight(err.Error(), "\n")
	for cut := true; cut; {
		cut = false
		for _, p := range prefixes {
			if rest, ok := strings.CutPrefix(msg, p); ok {
				msg, cut = rest, true
			}
		}
	}
	return path + ": " + msg
}

func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, config.ErrInvalid):
		return exitInvalid
	}
	return exitError
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "vigil",
		Short: "Vigil: an AIOps engine for the telemetry you already have",
		Long: `Vigil takes in logs, metrics, alerts and change events, learns what normal
looks like, finds what is not, folds the noise into a few incidents and
explains them.

Start with:  vigil serve --demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.AddCommand(newServeCmd(), newSimCmd(), newConfigCmd(), newEvalCmd(), newLogsCmd(), newExplainCmd(), newVersionCmd())
	for _, mk := range extraCommands {
		root.AddCommand(mk())
	}
	markGroups(root)
	return root
}

// groupUsage is cobra's usage template that leaves out a group's own
// invocation line: a group is run only through its subcommands, so
// "vigil metrics [flags]" would tell the reader something untrue. The
// subcommands inherit the template and, having none of their own, keep
// their line.
var groupUsage = strings.Replace((&cobra.Command{}).UsageTemplate(),
	"Usage:{{if .Runnable}}", "Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}", 1)

// markGroups makes every command that only groups subcommands print its
// help when called bare, and reject an unknown subcommand as a usage error
// naming the ones it has; cobra would print the help for a typo too and
// exit 0, which hides the mistake from a script.
func markGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		markGroups(sub)
	}
	if !c.HasParent() || c.Runnable() || !c.HasAvailableSubCommands() {
		return
	}
	c.SetUsageTemplate(groupUsage)
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra sets it on the root only
	}
	c.RunE = func(c *cobra.Command, a []string) error {
		if len(a) == 0 {
			return c.Help()
		}
		var names []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		hint := ""
		if s := c.SuggestionsFor(a[0]); len(s) > 0 {
			hint = "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usageError{fmt.Errorf("%s: unknown command %q%s (its commands: %s; see %s --help)",
			c.CommandPath(), a[0], hint, strings.Join(names, ", "), c.CommandPath())}
	}
}

// extraCommands and extraEvalCommands hold the constructors of top-level
// and `vigil eval` subcommands that live in files of their own; each such
// file appends to them from an init function, so adding a command touches
// only its own file.
var extraCommands, extraEvalCommands []func() *cobra.Command

// args wraps a cobra argument check so that its failure is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if err := check(c, a); err != nil {
			return usageError{fmt.Errorf("%s: %w (see %s --help)", c.CommandPath(), err, c.CommandPath())}
		}
		return nil
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(c.OutOrStdout(), "vigil", buildVersion())
			return nil
		},
	}
}
