package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// runVigil executes the root command in-process and returns its stdout,
// stderr and error.
func runVigil(t *testing.T, stdin string, argv ...string) (string, string, error) {
	t.Helper()
	root, out, errOut := testRoot(stdin, argv)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// testRoot is the root command with argv and stdin set and its output
// captured.
func testRoot(stdin string, argv []string) (root *cobra.Command, stdout, stderr *bytes.Buffer) {
	root = newRootCmd()
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	root.SetArgs(argv)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(strings.NewReader(stdin))
	return root, stdout, stderr
}

// usageCase is a command line that must fail as a usage error whose
// message mentions want.
type usageCase struct {
	name string
	argv []string
	want string
}

// checkUsageErrors runs each case as a subtest.
func checkUsageErrors(t *testing.T, cases []usageCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runVigil(t, "", tc.argv...)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a usage error mentioning %q", err, tc.want)
			}
		})
	}
}

func templatesJSON(t *testing.T, stdin string, argv ...string) templatesReport {
	t.Helper()
	out, stderr, err := runVigil(t, stdin, append([]string{"logs", "templates", "--json"}, argv...)...)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep templatesReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	return rep
}

func TestLogsTemplatesJSON(t *testing.T) {
	rep := templatesJSON(t, "", "--service", "shop", filepath.Join("testdata", "logs", "shop.log"))
	// 16 lines; the exception line and two frames of each of the two
	// traces join the ERROR line before them.
	if rep.Lines != 16 || rep.Entries != 10 || rep.Service != "shop" || rep.Truncated != 0 {
		t.Errorf("lines %d entries %d service %q truncated %d; want 16, 10, shop, 0", rep.Lines, rep.Entries, rep.Service, rep.Truncated)
	}
	want := []struct {
		template string
		count    int64
	}{
		{"order <*> placed by user <*>", 4},
		{"payment failed for order <*>", 2},
		{"slow query took <*>", 2},
		{"cache hit ratio", 2},
	}
	if len(rep.Templates) != len(want) {
		t.Fatalf("%d templates, want %d: %+v", len(rep.Templates), len(want), rep.Templates)
	}
	var sum int64
	for i, tp := range rep.Templates {
		sum += tp.Count
		if tp.Template != want[i].template || tp.Count != want[i].count {
			t.Errorf("template %d: %q ×%d, want %q ×%d", i, tp.Template, tp.Count, want[i].template, want[i].count)
		}
		if len(tp.Params) != strings.Count(tp.Template, "<*>") || len(tp.Examples) == 0 {
			t.Errorf("template %q: %d params, %d examples", tp.Template, len(tp.Params), len(tp.Examples))
		}
		if strings.Contains(tp.Template, "Shop.java") || strings.Contains(tp.Template, "Exception") {
			t.Errorf("a stack trace line became a template: %q", tp.Template)
		}
	}
	if sum != rep.Entries-rep.Blank {
		t.Errorf("counts add up to %d, want %d entries", sum, rep.Entries-rep.Blank)
	}
	order := rep.Templates[0].Params
	if p := order[0]; p.Distinct != 4 || p.Min == nil || *p.Min != 1001 || *p.Max != 1006 {
		t.Errorf("order number: %+v", p)
	}
	if p := order[1]; p.Distinct != 3 || p.Top[0] != (valueCount{"17", 2}) {
		t.Errorf("user: %+v", p)
	}
	if p := rep.Templates[2].Params[0]; p.Min != nil || p.Distinct != 2 {
		t.Errorf("durations are not plain numbers: %+v", p)
	}

	top := templatesJSON(t, "", "--top", "2", filepath.Join("testdata", "logs", "shop.log"))
	if len(top.Templates) != 2 || top.Templates[0].Template != want[0].template {
		t.Errorf("--top 2: %+v", top.Templates)
	}
}

func TestLogsTemplatesText(t *testing.T) {
	out, _, err := runVigil(t, "", "logs", "templates", filepath.Join("testdata", "logs", "shop.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"COUNT  ID  TEMPLATE\n",
		"    4  T1  order <*> placed by user <*>\n",
		"example: order 1001 placed by user 17\n",
		`<1> 4 distinct: "1001" (1), "1002" (1), "1004" (1), "1006" (1); range 1001..1006`,
		"16 lines, 10 entries, 4 templates in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestLogsTemplatesStdin(t *testing.T) {
	long := "request " + strings.Repeat("x", 300) + " done"
	in := "user 1 logged in\r\nuser 2 logged in\n" + long + "\n\nuser 3 logged in" // no final newline
	rep := templatesJSON(t, in, "--max-line-bytes", "100", "-")
	if rep.Lines != 5 || rep.Truncated != 1 || rep.Blank != 1 || rep.Entries != 5 {
		t.Errorf("lines %d truncated %d blank %d entries %d; want 5, 1, 1, 5", rep.Lines, rep.Truncated, rep.Blank, rep.Entries)
	}
	if len(rep.Templates) != 2 || rep.Templates[0].Template != "user <*> logged in" || rep.Templates[0].Count != 3 {
		t.Fatalf("templates: %+v", rep.Templates)
	}
	if ex := rep.Templates[1].Examples[0]; len(ex) != 100 || strings.Contains(ex, "done") {
		t.Errorf("long line not cut to 100 bytes: %q", ex)
	}
}

func TestLogsTemplatesErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.log")
	cases := []struct {
		name  string
		argv  []string
		want  string
		usage bool
	}{
		{"missing file", []string{missing}, missing, false},
		{"directory", []string{dir}, dir + " is a directory", false},
		{"no file", nil, "accepts 1 arg", true},
		{"negative top", []string{"--top", "-1", "-"}, "--top -1", true},
		{"tiny max line", []string{"--max-line-bytes", "10", "-"}, "--max-line-bytes 10", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runVigil(t, "", append([]string{"logs", "templates"}, tc.argv...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			var ue usageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("usage error %v, want %v (%v)", !tc.usage, tc.usage, err)
			}
		})
	}
}

func TestLineReader(t *testing.T) {
	in := "short\n" + strings.Repeat("a", 200<<10) + "\ncrlf\r\nlast"
	lr := &lineReader{r: bufio.NewReaderSize(strings.NewReader(in), 64<<10), max: 100 << 10}
	var got []string
	var cuts int
	for {
		line, cut, err := lr.next()
		if err != nil {
			break
		}
		if cut {
			cuts++
		}
		got = append(got, string(line))
	}
	if len(got) != 4 {
		t.Fatalf("%d lines, want 4", len(got))
	}
	if got[0] != "short" || len(got[1]) != 100<<10 || got[2] != "crlf" || got[3] != "last" || cuts != 1 {
		t.Errorf("lines %q, %d bytes, %q, %q; cuts %d", got[0], len(got[1]), got[2], got[3], cuts)
	}
	if lr.n != int64(len(in)) {
		t.Errorf("counted %d bytes, want %d", lr.n, len(in))
	}
}

func TestReadProgress(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	p := newReadProgress(&b, "reading app.log", 1000, t0)
	p.update(50, 5, t0.Add(500*time.Millisecond)) // quiet in the first second
	for i := int64(1); i <= 10; i++ {
		p.update(i*100, i*10, t0.Add(time.Second+time.Duration(i)*time.Millisecond))
		p.update(i*100+50, i*10+5, t0.Add(time.Second+time.Duration(i)*time.Millisecond)) // same tenth: no line
	}
	p.done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 10 || lines[0] != "reading app.log 10% (100 B of 1000 B, 10 lines)" || lines[9] != "reading app.log 100% (1000 B of 1000 B, 100 lines)" {
		t.Errorf("by bytes:\n%s", b.String())
	}

	b.Reset()
	p = newReadProgress(&b, "reading standard input", -1, t0)
	for s := 1; s <= 25; s++ {
		p.update(int64(s)<<20, int64(s)*1000, t0.Add(time.Duration(s)*time.Second))
	}
	if want := "reading standard input: 1000 lines, 1.0 MiB\nreading standard input: 11000 lines, 11.0 MiB\nreading standard input: 21000 lines, 21.0 MiB\n"; b.String() != want {
		t.Errorf("by lines:\n%s\nwant\n%s", b.String(), want)
	}
}
