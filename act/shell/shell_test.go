package shell

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/vigilops/vigil/act"
)

var params = []act.Param{
	{Name: "v", Type: act.TypeString, Pattern: `.{0,200}`},
	{Name: "name", Type: act.TypeK8sName},
}

// hostile are values crafted for a shell; none may be interpreted.
var hostile = []string{
	"; rm -rf /", "$(touch /tmp/pwned)", "`id`", "a && b", "x | cat /etc/passwd", "'quoted'", "\"dq\"",
	"$HOME", "*", "~", "a b", "> /tmp/out", "\\", "--",
}

func printfPath(t *testing.T) string {
	p, err := exec.LookPath("printf")
	if err != nil {
		t.Skip("printf not found")
	}
	return p
}

// TestArgvCarriesValuesVerbatim runs printf with each hostile value as one
// argument: the output is the value itself, so no shell saw it.
func TestArgvCarriesValuesVerbatim(t *testing.T) {
	pf := printfPath(t)
	e, err := New(Options{Timeout: DefaultTimeout, Env: []string{"PATH=/usr/bin:/bin"}, AllowedCommands: []string{pf}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hostile {
		t.Run(h, func(t *testing.T) {
			vals, err := act.BindValues(params, map[string]string{"v": h, "name": "redis"})
			if err != nil {
				if strings.HasPrefix(h, "-") {
					return // refused: a leading dash
				}
				t.Fatal(err)
			}
			c := act.Call{Op: "exec", Values: vals, With: map[string]any{"argv": []any{pf, "[%s][%s]", "${v}", "x=${v}"}}}
			argv, err := e.Argv(c)
			if err != nil {
				t.Fatal(err)
			}
			if len(argv) != 4 || argv[2] != h || argv[3] != "x="+h {
				t.Fatalf("argv = %q", argv)
			}
			res, err := e.Apply(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			want := "[" + h + "][x=" + h + "]"
			if !strings.Contains(res.Detail, want) {
				t.Fatalf("output %q lacks %q", res.Detail, want)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	e, _ := New(Options{Timeout: DefaultTimeout, AllowedCommands: []string{"/usr/bin/kubectl"}})
	bad := []map[string]any{
		{"argv": "kubectl scale"},
		{"argv": []any{}},
		{"argv": []any{"${v}", "x"}},
		{"argv": []any{"/bin/sh", "-c", "echo ${v}"}},
		{"argv": []any{"/usr/bin/kubectl"}, "shell": true},
		{"argv": []any{"/usr/bin/kubectl", map[string]any{"a": 1}}},
	}
	for i, w := range bad {
		if err := e.Check("exec", w); err == nil {
			t.Errorf("bad[%d] %v accepted", i, w)
		}
	}
	// A value that would become an option is refused at render time.
	vals, _ := act.BindValues([]act.Param{{Name: "n", Type: act.TypeInt}}, map[string]string{"n": "-5"})
	c := act.Call{Op: "exec", Values: vals, With: map[string]any{"argv": []any{"/usr/bin/kubectl", "${n}"}}}
	if _, err := e.Argv(c); err == nil {
		t.Fatal("argument -5 accepted as a positional value")
	}
	c.With = map[string]any{"argv": []any{"/usr/bin/kubectl", "--replicas=${n}"}}
	if argv, err := e.Argv(c); err != nil || argv[1] != "--replicas=-5" {
		t.Fatalf("flag with a negative value: %q, %v", argv, err)
	}
}

func TestFailureAndTimeout(t *testing.T) {
	f, err := exec.LookPath("false")
	if err != nil {
		t.Skip("false not found")
	}
	e, _ := New(DefaultOptions())
	if _, err := e.Apply(context.Background(), act.Call{Op: "exec", With: map[string]any{"argv": []any{f}}}); err == nil {
		t.Fatal("a failing command succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sl, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("sleep not found")
	}
	if _, err := e.Apply(ctx, act.Call{Op: "exec", With: map[string]any{"argv": []any{sl, "30"}}}); err == nil {
		t.Fatal("a cancelled command succeeded")
	}
}
