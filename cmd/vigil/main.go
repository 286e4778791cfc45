// Command vigil is the AIOps engine's single binary: `vigil serve` runs the
// pipeline; the other subcommands work on files and the data directory.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

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
	root := newRootCmd()
	err := root.Execute()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vigil:", err)
	}
	os.Exit(exitCode(err))
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
	return root
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
