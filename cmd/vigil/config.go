package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/vigilops/vigil/config"
)

func newConfigCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Check and show configuration",
	}
	c.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file (with environment overrides applied)",
		Long: `Validate a configuration file. Every problem is reported with the file,
line and key, e.g.

  vigil.yaml:7: api.listen: "nowhere" is not host:port

The alertmanager.yml named by alerting.config_file is checked too, with
its own file and line numbers.

Exit status: 0 valid, 3 invalid, 1 unreadable.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if _, err := config.Load(a[0], os.Environ()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", a[0])
			return nil
		},
	})
	var cfgFile string
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration as YAML (defaults, file, environment)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgFile, os.Environ())
			if err != nil {
				return err
			}
			enc := yaml.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent(2)
			defer enc.Close()
			return enc.Encode(cfg)
		},
	}
	show.Flags().StringVar(&cfgFile, "config", "", "YAML configuration file")
	c.AddCommand(show)
	c.AddCommand(&cobra.Command{
		Use:   "env",
		Short: "List the environment variables that override each key",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys := config.EnvKeys()
			names := make([]string, 0, len(keys))
			for k := range keys {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "%-28s %s\n", keys[k], k)
			}
			return nil
		},
	})
	return c
}
