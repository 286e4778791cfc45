// Package shell is the act executor for local commands: an argument vector
// run with os/exec, never a shell string.
//
// Invariant: the program (argv[0]) is literal in the runbook, and every
// other element is rendered on its own from validated values into exactly
// one argument, so no value can add arguments, become an option, or be
// interpreted by a shell (none is involved).
package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/vigilops/vigil/act"
)

// Defaults.
const (
	DefaultTimeout        = 2 * time.Minute
	DefaultMaxOutputBytes = 64 << 10
)

// ErrInvalidOptions is returned by New.
var ErrInvalidOptions = errors.New("invalid shell executor options")

// Options configure the executor.
type Options struct {
	// AllowedCommands, when any, are the only programs (argv[0], as
	// written) it runs. Configure it: a runbook file should not be able to
	// run any binary on the host.
	AllowedCommands []string
	// Env is the whole environment of commands (nothing is inherited).
	Env []string
	// Dir is the working directory ("" is the process's).
	Dir string
	// Timeout bounds each command; it is killed after it.
	Timeout time.Duration
	// MaxOutputBytes bounds the output kept.
	MaxOutputBytes int
	Logger         *slog.Logger
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		Env:            []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		Timeout:        DefaultTimeout,
		MaxOutputBytes: DefaultMaxOutputBytes,
		Logger:         slog.Default(),
	}
}

func (o *Options) validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("%w: timeout must be positive", ErrInvalidOptions)
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Executor runs shell.exec actions.
type Executor struct {
	opts Options
}

var (
	_ act.Executor  = (*Executor)(nil)
	_ act.Describer = (*Executor)(nil)
)

// Describe implements act.Describer: the argument vector, one quoted
// element each.
func (e *Executor) Describe(c act.Call) (string, error) {
	argv, err := e.Argv(c)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("exec %q", argv), nil
}

// New builds an Executor.
func New(o Options) (*Executor, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Executor{opts: o}, nil
}

// Check implements act.Executor. With keys: argv (a list of strings,
// argv[0] literal), target (optional, names what the command changes, for
// the guard's blast radius).
func (e *Executor) Check(op string, with map[string]any) error {
	if op != "exec" {
		return fmt.Errorf("unknown shell operation %q (exec)", op)
	}
	if err := act.CheckKeys(with, "argv", "target"); err != nil {
		return err
	}
	argv, err := argvOf(with)
	if err != nil {
		return err
	}
	if strings.Contains(argv[0], "$") {
		return fmt.Errorf("with.argv[0] %q must be literal: the program is never a parameter", argv[0])
	}
	if len(e.opts.AllowedCommands) > 0 && !slices.Contains(e.opts.AllowedCommands, argv[0]) {
		return fmt.Errorf("with.argv[0] %q is not an allowed command %v", argv[0], e.opts.AllowedCommands)
	}
	if _, err := act.StringArg(with, "target", false); err != nil {
		return err
	}
	return nil
}

func argvOf(with map[string]any) ([]string, error) {
	raw, ok := with["argv"].([]any)
	if !ok || len(raw) == 0 {
		return nil, fmt.Errorf("with.argv must be a non-empty list of strings (an argument vector, not a shell string)")
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		switch t := r.(type) {
		case string:
			out[i] = t
		case int, int64, float64, bool:
			out[i] = fmt.Sprint(t)
		default:
			return nil, fmt.Errorf("with.argv[%d] must be a string, not %T", i, r)
		}
	}
	if out[0] == "" {
		return nil, fmt.Errorf("with.argv[0] is empty")
	}
	return out, nil
}

// Argv renders the argument vector of a call: one element per template
// element, each exactly the rendered value.
func (e *Executor) Argv(c act.Call) ([]string, error) {
	if err := e.Check(c.Op, c.With); err != nil {
		return nil, err
	}
	argv, _ := argvOf(c.With)
	return act.RenderArgv(argv, c.Values)
}

// Plan implements act.Executor.
func (e *Executor) Plan(ctx context.Context, c act.Call) (act.Plan, error) {
	argv, err := e.Argv(c)
	if err != nil {
		return act.Plan{}, err
	}
	target := "shell/" + argv[0]
	if _, ok := c.With["target"]; ok {
		if target, err = act.RenderArg(c, "target"); err != nil {
			return act.Plan{}, err
		}
	}
	return act.Plan{Summary: fmt.Sprintf("run %q", argv), Targets: []string{target}}, nil
}

// Apply implements act.Executor.
func (e *Executor) Apply(ctx context.Context, c act.Call) (act.Result, error) {
	argv, err := e.Argv(c)
	if err != nil {
		return act.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = slices.Clone(e.opts.Env)
	cmd.Dir = e.opts.Dir
	cmd.WaitDelay = 5 * time.Second
	out := &capped{max: e.opts.MaxOutputBytes}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	detail := fmt.Sprintf("ran %q: %s", argv, strings.TrimSpace(out.String()))
	if err != nil {
		return act.Result{Detail: detail}, fmt.Errorf("run %s: %w (output: %s)", argv[0], err, truncate(strings.TrimSpace(out.String()), 500))
	}
	return act.Result{Detail: detail}, nil
}

// capped keeps the first max bytes written to it.
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
