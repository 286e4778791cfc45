package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/act"
	acthttp "github.com/vigilops/vigil/act/http"
	"github.com/vigilops/vigil/act/kube"
	"github.com/vigilops/vigil/act/shell"
	"github.com/vigilops/vigil/config"
)

func init() { extraCommands = append(extraCommands, newRunbookCmd) }

// runbookInvalid makes an invalid runbook exit like a bad configuration
// (code 3).
type runbookInvalid struct{ error }

func (runbookInvalid) Is(target error) bool { return target == config.ErrInvalid }
func (e runbookInvalid) Unwrap() error      { return e.error }

// offlineExecutors checks and describes steps without reaching any system.
func offlineExecutors() (map[string]act.Executor, error) {
	hx, err := acthttp.New(acthttp.DefaultOptions())
	if err != nil {
		return nil, err
	}
	sx, err := shell.New(shell.DefaultOptions())
	if err != nil {
		return nil, err
	}
	return map[string]act.Executor{"kube": kube.NewChecker(), "http": hx, "shell": sx}, nil
}

// loadRunbooks loads the runbooks of files and dirs, checked against the
// built-in executors.
func loadRunbooks(files, dirs []string) ([]*act.Runbook, error) {
	execs, err := offlineExecutors()
	if err != nil {
		return nil, err
	}
	var all []*act.Runbook
	for _, f := range files {
		rbs, err := act.LoadFile(f, execs)
		if err != nil {
			return nil, wrapRunbookErr(err)
		}
		all = append(all, rbs...)
	}
	for _, d := range dirs {
		rbs, err := act.LoadDir(d, execs)
		if err != nil {
			return nil, wrapRunbookErr(err)
		}
		all = append(all, rbs...)
	}
	seen := map[string]string{}
	for _, rb := range all {
		if prev, ok := seen[rb.Name]; ok {
			return nil, runbookInvalid{fmt.Errorf("%w: runbook %q is defined in %s and %s", act.ErrInvalidRunbook, rb.Name, prev, rb.Source)}
		}
		seen[rb.Name] = rb.Source
	}
	return all, nil
}

func wrapRunbookErr(err error) error {
	if errors.Is(err, act.ErrInvalidRunbook) {
		return runbookInvalid{err}
	}
	return err
}

// newRunbookCmd returns `vigil runbook`.
func newRunbookCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "runbook",
		Short: "Validate runbooks and show what they would do",
		Long: `Runbooks are YAML: a match condition (expr-lang) over the incident, its
diagnosis, anomalies and alerts; typed parameters; steps (kube.scale,
kube.restart, kube.undo, kube.cordon, kube.uncordon, http.call, shell.exec);
a verification check; rollback steps; a risk (low, medium, high) and the
automation level allowed (0 alert, 1 suggest, 2 approve, 3 auto low risk,
4 auto high risk). See act/testdata/runbooks for examples.`,
	}
	c.AddCommand(newRunbookValidateCmd(), newRunbookRunCmd(), newRunbookKillCmd(), newRunbookApprovalsCmd())
	return c
}

type runbookSummary struct {
	Name   string    `json:"name"`
	Source string    `json:"source"`
	Risk   act.Risk  `json:"risk"`
	Level  act.Level `json:"level"`
	Steps  int       `json:"steps"`
	Params []string  `json:"params"`
	Verify string    `json:"verify,omitempty"`
}

func newRunbookValidateCmd() *cobra.Command {
	var dirs []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "validate [FILE...] [--dir DIR] [--json]",
		Short: "Check runbook files: schema, expressions, parameter types, templates, actions",
		Long: `Load every runbook of the files (and of each --dir, *.yaml and *.yml) and check
it completely: fields, level and risk, match and from expressions, parameter
declarations and defaults, that every ${param} is declared, and that every
step is one the built-in executors accept. Exits 3 on the first invalid
runbook, naming the file, the runbook and what is wrong.`,
		RunE: func(cmd *cobra.Command, files []string) error {
			if len(files) == 0 && len(dirs) == 0 {
				return usageError{fmt.Errorf("%s: name at least one FILE or --dir DIR (see %s --help)", cmd.CommandPath(), cmd.CommandPath())}
			}
			rbs, err := loadRunbooks(files, dirs)
			if err != nil {
				return fmt.Errorf("runbook validate: %w", err)
			}
			out := make([]runbookSummary, 0, len(rbs))
			for _, rb := range rbs {
				s := runbookSummary{Name: rb.Name, Source: rb.Source, Risk: rb.EffectiveRisk(), Level: rb.Level, Steps: len(rb.Steps), Params: []string{}}
				for _, p := range rb.Params {
					s.Params = append(s.Params, p.Name+":"+string(p.Type))
				}
				if rb.Verify != nil {
					s.Verify = rb.Verify.Check
				}
				out = append(out, s)
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
			w := cmd.OutOrStdout()
			if asJSON {
				return runbookWriteJSON(w, map[string]any{"valid": true, "runbooks": out})
			}
			for _, s := range out {
				fmt.Fprintf(w, "ok  %s (%s): level %d (%s), %s risk, %d step(s), params [%s]\n",
					s.Name, s.Source, s.Level, s.Level, s.Risk, s.Steps, strings.Join(s.Params, " "))
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&dirs, "dir", nil, "directory of runbooks (repeatable)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func newRunbookRunCmd() *cobra.Command {
	var files, dirs, params []string
	var dryRun, asJSON bool
	c := &cobra.Command{
		Use:   "run NAME --dry-run (--file FILE | --dir DIR) [--param k=v...] [--json]",
		Short: "Show what a runbook would do with the given parameters",
		Long: `Bind the parameters (given with --param, else their defaults), validate them
against their types and render every step as its executor would send it:
the Kubernetes object and change, the HTTP request with its escaped URL and
JSON body, the exact argument vector. Nothing is contacted.

Only --dry-run is supported here: real executions go through the guards,
approvals and audit trail of vigil serve (POST /api/v1/runbooks/NAME/request,
then an operator approves).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if !dryRun {
				return usageError{fmt.Errorf("%s: only --dry-run is supported from the CLI; executions go through vigil serve's guards and approvals (POST /api/v1/runbooks/%s/request)", cmd.CommandPath(), a[0])}
			}
			if len(files) == 0 && len(dirs) == 0 {
				return usageError{fmt.Errorf("%s: --file FILE or --dir DIR is required (see %s --help)", cmd.CommandPath(), cmd.CommandPath())}
			}
			given := map[string]string{}
			for _, p := range params {
				k, v, ok := strings.Cut(p, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("%s: --param %q must be key=value", cmd.CommandPath(), p)}
				}
				if _, dup := given[k]; dup {
					return usageError{fmt.Errorf("%s: --param %s given twice", cmd.CommandPath(), k)}
				}
				given[k] = v
			}
			rbs, err := loadRunbooks(files, dirs)
			if err != nil {
				return fmt.Errorf("runbook run: %w", err)
			}
			var rb *act.Runbook
			for _, r := range rbs {
				if r.Name == a[0] {
					rb = r
				}
			}
			if rb == nil {
				names := make([]string, 0, len(rbs))
				for _, r := range rbs {
					names = append(names, r.Name)
				}
				sort.Strings(names)
				return fmt.Errorf("runbook run: %w %q (loaded: %s)", act.ErrUnknownRunbook, a[0], strings.Join(names, ", "))
			}
			vals, err := rb.Bind(nil, given)
			if err != nil {
				return usageError{fmt.Errorf("runbook run %s: %w", rb.Name, err)}
			}
			execs, err := offlineExecutors()
			if err != nil {
				return err
			}
			steps, rollback, err := rb.Describe(execs, vals)
			if err != nil {
				return usageError{fmt.Errorf("runbook run %s: %w", rb.Name, err)}
			}
			return writeRunbookPlan(cmd.OutOrStdout(), asJSON, rb, vals.Map(), steps, rollback)
		},
	}
	fl := c.Flags()
	fl.StringArrayVar(&files, "file", nil, "runbook file (repeatable)")
	fl.StringArrayVar(&dirs, "dir", nil, "directory of runbooks (repeatable)")
	fl.StringArrayVarP(&params, "param", "p", nil, "parameter as key=value (repeatable)")
	fl.BoolVar(&dryRun, "dry-run", false, "render the steps without executing them (required)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func writeRunbookPlan(w io.Writer, asJSON bool, rb *act.Runbook, params map[string]string, steps, rollback []act.StepDescription) error {
	if asJSON {
		return runbookWriteJSON(w, map[string]any{
			"runbook": rb.Name, "dry_run": true, "risk": rb.EffectiveRisk(), "level": rb.Level,
			"params": params, "steps": steps, "rollback": rollback, "verify": rb.Verify,
		})
	}
	fmt.Fprintf(w, "runbook %s (dry run): level %d (%s), %s risk\n", rb.Name, rb.Level, rb.Level, rb.EffectiveRisk())
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  param %s = %q\n", k, params[k])
	}
	for i, s := range steps {
		fmt.Fprintf(w, "step %d %s [%s, %s risk]: %s\n", i+1, s.Step, s.Action, s.Risk, s.Does)
	}
	if rb.Verify != nil {
		fmt.Fprintf(w, "verify: %s\n", rb.Verify.Check)
	}
	for i, s := range rollback {
		fmt.Fprintf(w, "rollback %d %s [%s]: %s\n", i+1, s.Step, s.Action, s.Does)
	}
	return nil
}

func runbookWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newRunbookKillCmd returns `vigil runbook killswitch [status|engage|release]`.
func newRunbookKillCmd() *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "killswitch [status|engage|release] [--reason TEXT]",
		Short: "Show, engage or release the kill switch of a running vigil serve",
		Long: `Engaging the kill switch stops all remediation at once: executions in flight
are cancelled, queued ones rejected and new ones refused until it is
released. Engaging and releasing need an admin token. The kill switch can
also be engaged at start with the act.kill_switch configuration key.`,
		Args: args(cobra.MaximumNArgs(1)),
	}
	client := apiClientFlags(c)
	c.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail)")
	c.RunE = func(cmd *cobra.Command, a []string) error {
		verb := "status"
		if len(a) == 1 {
			verb = a[0]
		}
		cl, err := client(cmd)
		if err != nil {
			return err
		}
		var body []byte
		switch verb {
		case "status":
			body, err = cl.do(cmdContext(cmd), "GET", "/api/v1/killswitch", nil)
		case "engage", "release":
			body, err = cl.send(cmdContext(cmd), "POST", "/api/v1/killswitch", map[string]any{"engaged": verb == "engage", "reason": reason})
		default:
			return usageError{fmt.Errorf("%s: %q is not status, engage or release", cmd.CommandPath(), verb)}
		}
		if err != nil {
			return fmt.Errorf("kill switch: %w", err)
		}
		var st struct {
			Engaged bool   `json:"engaged"`
			Reason  string `json:"reason"`
			By      string `json:"by"`
		}
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("kill switch: decode answer: %w", err)
		}
		w := cmd.OutOrStdout()
		if st.Engaged {
			fmt.Fprintf(w, "kill switch ENGAGED by %s: %s\n", st.By, st.Reason)
		} else {
			fmt.Fprintln(w, "kill switch released: executions allowed (within the guards)")
		}
		return nil
	}
	return c
}

// newRunbookApprovalsCmd returns `vigil runbook approvals [list|approve ID|reject ID]`.
func newRunbookApprovalsCmd() *cobra.Command {
	var comment, status string
	c := &cobra.Command{
		Use:   "approvals [list | approve ID | reject ID] [--comment TEXT]",
		Short: "List, approve or reject the approval requests of a running vigil serve",
		Long: `Approving or rejecting needs an operator token; the requester of a
high-risk request cannot approve it. An approved runbook runs at once,
through the guards, and is verified and audited.`,
		Args: args(cobra.RangeArgs(0, 2)),
	}
	client := apiClientFlags(c)
	c.Flags().StringVar(&comment, "comment", "", "comment recorded with the decision")
	c.Flags().StringVar(&status, "status", "pending", "list only requests in this state (pending, approved, rejected, expired, or all)")
	c.RunE = func(cmd *cobra.Command, a []string) error {
		verb := "list"
		if len(a) > 0 {
			verb = a[0]
		}
		cl, err := client(cmd)
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		switch verb {
		case "list":
			if len(a) > 1 {
				return usageError{fmt.Errorf("%s: list takes no ID", cmd.CommandPath())}
			}
			q := ""
			if status != "all" {
				q = "?status=" + url.QueryEscape(status)
			}
			body, err := cl.do(cmdContext(cmd), "GET", "/api/v1/approvals"+q, nil)
			if err != nil {
				return fmt.Errorf("list approvals: %w", err)
			}
			var resp struct {
				Approvals []struct {
					ID          string            `json:"id"`
					Runbook     string            `json:"runbook"`
					Risk        string            `json:"risk"`
					Status      string            `json:"status"`
					RequestedBy string            `json:"requested_by"`
					ExpiresAt   time.Time         `json:"expires_at"`
					Params      map[string]string `json:"params"`
				} `json:"approvals"`
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				return fmt.Errorf("list approvals: decode answer: %w", err)
			}
			for _, ap := range resp.Approvals {
				fmt.Fprintf(w, "%s  %-8s %-8s %-30s by %-10s expires %s  %v\n", ap.ID, ap.Status, ap.Risk, ap.Runbook,
					ap.RequestedBy, ap.ExpiresAt.UTC().Format(time.RFC3339), ap.Params)
			}
			return nil
		case "approve", "reject":
			if len(a) != 2 {
				return usageError{fmt.Errorf("%s: %s needs an approval ID", cmd.CommandPath(), verb)}
			}
			body, err := cl.send(cmdContext(cmd), "POST", "/api/v1/approvals/"+url.PathEscape(a[1])+"/"+verb, map[string]string{"comment": comment})
			if err != nil {
				return fmt.Errorf("%s: %w", verb, err)
			}
			var ap struct {
				ID, Status, Runbook, Execution string
			}
			_ = json.Unmarshal(body, &ap)
			fmt.Fprintf(w, "%s %s (runbook %s)", ap.ID, ap.Status, ap.Runbook)
			if ap.Execution != "" {
				fmt.Fprintf(w, ", execution %s", ap.Execution)
			}
			fmt.Fprintln(w)
			return nil
		}
		return usageError{fmt.Errorf("%s: %q is not list, approve or reject", cmd.CommandPath(), verb)}
	}
	return c
}
