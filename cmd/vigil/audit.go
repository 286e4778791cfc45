package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/act/audit"
)

func init() { extraCommands = append(extraCommands, newAuditCmd) }

// errAuditTampered marks a failed verification, so main exits 1 with the
// line and reason printed.
var errAuditTampered = errors.New("audit log does not verify")

// newAuditCmd returns `vigil audit`.
func newAuditCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Inspect the remediation audit trail",
	}
	c.AddCommand(newAuditVerifyCmd())
	return c
}

func newAuditVerifyCmd() *cobra.Command {
	var file, dataDir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify [--file F | --data-dir DIR] [--json]",
		Short: "Check the audit log's hash chain and report the first bad line",
		Long: `Read the audit log (JSON lines, each entry holding the SHA-256 of the one
before and of itself) and check every line: its hash, its sequence number,
its link to the previous entry, and that the file ends with a complete
line. A changed, removed, reordered or inserted line is reported with its
line number and the reason, and the command exits 1.

Lines removed from the end leave a shorter chain that still holds; compare
the entries and head printed here with a copy kept elsewhere to detect that
(vigil serve compares against the head it last wrote: GET /api/v1/audit/verify).

The log is --file, or audit.jsonl in --data-dir (default ./vigil-data).
--json prints {"ok","entries","head"} or {"ok":false,"line","reason"}.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file != "" && cmd.Flags().Changed("data-dir") {
				return usageError{fmt.Errorf("%s: give --file or --data-dir, not both", cmd.CommandPath())}
			}
			if file == "" {
				file = filepath.Join(dataDir, audit.DefaultFileName)
			}
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("audit verify: %w", err)
			}
			defer f.Close()
			rep, err := audit.Verify(f)
			w := cmd.OutOrStdout()
			var ve *audit.VerifyError
			switch {
			case errors.As(err, &ve):
				if asJSON {
					if jerr := runbookWriteJSON(w, map[string]any{"ok": false, "file": file, "line": ve.Line, "reason": ve.Reason, "valid_entries": rep.Entries}); jerr != nil {
						return jerr
					}
				}
				return fmt.Errorf("%w: %s line %d: %s (%d entries before it hold)", errAuditTampered, file, ve.Line, ve.Reason, rep.Entries)
			case err != nil:
				return fmt.Errorf("audit verify: %w", err)
			}
			if asJSON {
				return runbookWriteJSON(w, map[string]any{"ok": true, "file": file, "entries": rep.Entries, "head": rep.Head})
			}
			fmt.Fprintf(w, "ok  %s: %d entries, chain intact, head %s\n", file, rep.Entries, rep.Head)
			return nil
		},
	}
	c.Flags().StringVar(&file, "file", "", "audit log file")
	c.Flags().StringVar(&dataDir, "data-dir", "./vigil-data", "data directory holding "+audit.DefaultFileName)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
