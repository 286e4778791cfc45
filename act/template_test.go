package act

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

func i64(n int64) *int64 { return &n }

var testParams = []Param{
	{Name: "name", Type: TypeK8sName},
	{Name: "label", Type: TypeLabelValue},
	{Name: "n", Type: TypeInt, Min: i64(0), Max: i64(10)},
	{Name: "mode", Type: TypeEnum, Values: []string{"fast", "safe"}},
	{Name: "wait", Type: TypeDuration},
	{Name: "text", Type: TypeString, Pattern: `[^"]*`},
}

func TestParamValidate(t *testing.T) {
	tests := []struct {
		param   string
		in      string
		want    string
		wantErr bool
	}{
		{"name", "redis", "redis", false},
		{"name", "catalog.shop-1", "catalog.shop-1", false},
		{"name", "Redis", "", true},
		{"name", "redis; rm -rf /", "", true},
		{"name", "$(id)", "", true},
		{"name", "-redis", "", true},
		{"name", "redis\n", "", true},
		{"name", strings.Repeat("a", 254), "", true},
		{"label", "v1.2_beta-3", "v1.2_beta-3", false},
		{"label", "", "", false},
		{"label", "a b", "", true},
		{"label", strings.Repeat("a", 64), "", true},
		{"n", "7", "7", false},
		{"n", "007", "7", false},
		{"n", "+3", "3", false},
		{"n", "11", "", true},
		{"n", "-1", "", true},
		{"n", "1e3", "", true},
		{"n", "3; reboot", "", true},
		{"mode", "fast", "fast", false},
		{"mode", "FAST", "", true},
		{"wait", "90s", "1m30s", false},
		{"wait", "-5m", "", true},
		{"wait", "5", "", true},
		{"text", "hello world", "hello world", false},
		{"text", "`id`", "`id`", false}, // allowed by the pattern; harmless as one argv element
		{"text", "a\nb", "", true},      // control characters are never allowed
		{"text", "--force", "", true},   // nor a leading dash
		{"text", "say \"hi\"", "", true},
		{"text", "\x00", "", true},
		{"text", "\xff", "", true},
	}
	ps := map[string]*Param{}
	for i := range testParams {
		p := testParams[i]
		if err := p.compile(); err != nil {
			t.Fatal(err)
		}
		ps[p.Name] = &p
	}
	for _, tc := range tests {
		t.Run(tc.param+"/"+tc.in, func(t *testing.T) {
			got, err := ps[tc.param].Validate(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidParam) {
					t.Fatalf("Validate(%q) = %q, %v; want ErrInvalidParam", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Validate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParamDeclarationErrors(t *testing.T) {
	tests := []Param{
		{Name: "s", Type: TypeString},
		{Name: "s", Type: TypeString, Pattern: "("},
		{Name: "e", Type: TypeEnum},
		{Name: "i", Type: TypeInt, Min: i64(5), Max: i64(1)},
		{Name: "x", Type: "float"},
		{Name: "x"},
		{Name: "bad name", Type: TypeInt},
		{Name: "k", Type: TypeK8sName, Pattern: "a"},
		{Name: "k", Type: TypeK8sName, Default: "Not_Valid"},
	}
	for _, p := range tests {
		t.Run(p.Name+"/"+string(p.Type), func(t *testing.T) {
			if err := p.compile(); err == nil {
				t.Fatalf("compile(%+v) accepted", p)
			}
		})
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in      string
		params  []string
		wantErr bool
	}{
		{"plain", nil, false},
		{"${a}-${b_2}", []string{"a", "b_2"}, false},
		{"cost $$5 ${a}", []string{"a"}, false},
		{"${", nil, true},
		{"$a", nil, true},
		{"${a b}", nil, true},
		{"${}", nil, true},
		{"tail $", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := templateParams(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("templateParams(%q) err = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if strings.Join(got, ",") != strings.Join(tc.params, ",") {
				t.Fatalf("params = %v, want %v", got, tc.params)
			}
		})
	}
}

// hostile are values crafted to inject into shells, YAML, JSON and URLs.
var hostile = []string{
	"; rm -rf /", "$(reboot)", "`id`", "a\nb: c", "x\" || true", "--privileged", "-rf",
	"' OR 1=1 --", "{{.Secret}}", "${name}", "a/../../etc/passwd", "a?b=c&d=e#f", "a b c",
	"\r\nX-Injected: 1", "key: [1, 2]", "!!python/object", "&anchor *ref", "|", "\u2028",
}

// TestHostileValuesNeverReachExecutors feeds hostile values through every
// parameter type: each is refused, or accepted only as the exact value.
func TestHostileValuesNeverReachExecutors(t *testing.T) {
	free := []Param{{Name: "v", Type: TypeString, Pattern: `.{0,200}`}}
	for _, p := range append(testParams, free...) {
		for _, h := range hostile {
			vals, err := BindValues([]Param{p}, map[string]string{p.Name: h})
			if err != nil {
				if !errors.Is(err, ErrInvalidParam) {
					t.Fatalf("%s=%q: error %v is not ErrInvalidParam", p.Name, h, err)
				}
				continue
			}
			got, _ := vals.Get(p.Name)
			// Accepted: it is one argv element, verbatim.
			argv, err := RenderArgv([]string{"/bin/echo", "${" + p.Name + "}", "--flag=${" + p.Name + "}"}, vals)
			if err != nil {
				continue // refused by the argv rules (e.g. a leading dash)
			}
			if len(argv) != 3 || argv[1] != got || argv[2] != "--flag="+got {
				t.Fatalf("%s=%q rendered to %q", p.Name, h, argv)
			}
			if strings.ContainsAny(got, "\n\r\x00") || strings.HasPrefix(got, "-") {
				t.Fatalf("%s accepted %q", p.Name, got)
			}
		}
	}
}

func TestRenderURLEscapes(t *testing.T) {
	vals, err := BindValues([]Param{{Name: "v", Type: TypeString, Pattern: `.{0,200}`}}, map[string]string{"v": "a/../b?x=1&y=2#z"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := RenderURL("https://awx.example.com/api/jobs/${v}/launch/?note=${v}", vals)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "awx.example.com" || u.Query().Get("note") != "a/../b?x=1&y=2#z" || len(u.Query()) != 1 {
		t.Fatalf("url %s: host %s query %v", got, u.Host, u.Query())
	}
	if u.Path != "/api/jobs/a/../b?x=1&y=2#z/launch/" {
		t.Fatalf("path = %q", u.Path)
	}
	if _, err := RenderURL("https://${v}/x", vals); err == nil {
		t.Fatal("a parameter in the host was accepted")
	}
	if _, err := RenderURL("file:///etc/${v}", vals); err == nil {
		t.Fatal("a file URL was accepted")
	}
}

// FuzzRenderArgv checks that whatever a value holds, once validated it is
// rendered as exactly one argv element equal to itself.
func FuzzRenderArgv(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, "3")
	}
	f.Add("redis", "7")
	params := []Param{
		{Name: "s", Type: TypeString, Pattern: `[^\x00]{0,256}`},
		{Name: "k", Type: TypeK8sName},
		{Name: "n", Type: TypeInt},
	}
	f.Fuzz(func(t *testing.T, s, n string) {
		for _, p := range []string{"s", "k"} {
			in := map[string]string{"s": "x", "k": "x", "n": "1"}
			in[p] = s
			in["n"] = n
			vals, err := BindValues(params, in)
			if err != nil {
				if !errors.Is(err, ErrInvalidParam) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				continue
			}
			got, _ := vals.Get(p)
			if got != s {
				t.Fatalf("validated %q became %q", s, got)
			}
			argv, err := RenderArgv([]string{"/usr/bin/tool", "${" + p + "}", "--n=${n}", "pre-${" + p + "}-post"}, vals)
			if err != nil {
				if strings.HasPrefix(s, "-") {
					continue
				}
				t.Fatalf("RenderArgv: %v", err)
			}
			nv, _ := vals.Get("n")
			if len(argv) != 4 || argv[0] != "/usr/bin/tool" || argv[1] != s || argv[2] != "--n="+nv || argv[3] != "pre-"+s+"-post" {
				t.Fatalf("argv = %q for %q", argv, s)
			}
			// JSON and YAML documents built from the value stay well-formed
			// and carry it back exactly.
			tree, err := RenderTree(map[string]any{"a": "${" + p + "}", "b": []any{"x ${" + p + "} y"}, "n": "${n}"}, vals)
			if err != nil {
				t.Fatalf("RenderTree: %v", err)
			}
			js, err := json.Marshal(tree)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var back map[string]any
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatalf("rendered JSON %s is malformed: %v", js, err)
			}
			if back["a"] != s || back["b"].([]any)[0] != "x "+s+" y" || len(back) != 3 {
				t.Fatalf("JSON round trip changed the value: %s", js)
			}
			ym, err := yaml.Marshal(tree)
			if err != nil {
				t.Fatalf("yaml marshal: %v", err)
			}
			var yback map[string]any
			if err := yaml.Unmarshal(ym, &yback); err != nil || yback["a"] != s || len(yback) != 3 {
				t.Fatalf("YAML round trip of %q: %s, %v", s, ym, err)
			}
			if !utf8.ValidString(argv[1]) {
				t.Fatalf("invalid UTF-8 passed validation")
			}
		}
	})
}

// FuzzParseTemplate checks the template parser never panics and that a
// template with no parameters renders to its literal text with $$ folded.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"${a}", "$$", "x${a}y${b}", "${", "$", "${a}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		segs, err := parseTemplate(s)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, sg := range segs {
			if sg.param != "" {
				b.WriteString("${" + sg.param + "}")
			} else {
				b.WriteString(strings.ReplaceAll(sg.lit, "$", "$$"))
			}
		}
		again, err := parseTemplate(b.String())
		if err != nil || len(again) != len(segs) {
			t.Fatalf("re-parse of %q (%q): %v, %d segments, want %d", s, b.String(), err, len(again), len(segs))
		}
	})
}
