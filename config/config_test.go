package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("default config invalid: %v", ps)
	}
}

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir", c.DataDir, "/var/lib/vigil"},
		{"log.level", c.Log.Level, "debug"},
		{"api.listen", c.API.Listen, "0.0.0.0:9999"},
		{"api.max_body_bytes", c.API.MaxBodyBytes, Size(8 << 20)},
		{"api.anonymous_role", string(c.API.AnonymousRole), "viewer"},
		{"store.retention", time.Duration(c.Store.Retention), 14 * 24 * time.Hour},
		{"bus.queue_size", c.Bus.QueueSize, 4096},
		{"demo.enabled", c.Demo.Enabled, true},
		{"demo.speed", c.Demo.Speed, 120.0},
		{"demo.step", time.Duration(c.Demo.Step), 15 * time.Second},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadNoFileGivesDefaults(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("got %+v", c)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings, in order of the error lines
	}{
		{"unknown key", "api:\n  listen: 127.0.0.1:1\n  lisen: x\n", []string{"c.yaml:3: api.lisen: unknown key (known keys here: anonymous_role, listen,"}},
		{"bad type", "bus:\n  queue_size: lots\n", []string{`c.yaml:2: bus.queue_size: "lots" is not an integer`}},
		{"bad duration", "store:\n  retention: forever\n", []string{`c.yaml:2: store.retention: "forever" is not a duration`}},
		{"bad size", "api:\n  max_body_bytes: 4 lightyears\n", []string{`c.yaml:2: api.max_body_bytes: "4 lightyears" is not a size`}},
		{"validation", "log:\n  level: loud\napi:\n  listen: nowhere\n", []string{
			`c.yaml:2: log.level: "loud" is not one of`, `c.yaml:4: api.listen: "nowhere" is not host:port`}},
		{"anonymous admin", "api:\n  anonymous_role: admin\n", []string{"c.yaml:2: api.anonymous_role:"}},
		{"mapping expected", "api: 5\n", []string{"c.yaml:1: api: want a mapping, got a single value"}},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", []string{"c.yaml:3: log.level"}},
		{"syntax", "api:\n  listen: [\n", []string{"c.yaml:"}},
		{"several at once", "bus:\n  queue_size: 0\ndemo:\n  speed: -1\n", []string{"c.yaml:2: bus.queue_size", "c.yaml:4: demo.speed"}},
		// A setting that fails to decode does not hide what validation
		// finds in the others.
		{"decode and validation together", "api:\n  listen: nowhere\nstore:\n  retention: -1d\nbogus: 1\n", []string{
			`c.yaml:2: api.listen: "nowhere" is not host:port`, `c.yaml:4: store.retention: "-1d" is not a duration`, "c.yaml:5: bogus: unknown key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) < len(tc.want) {
				t.Fatalf("got %d error lines, want %d:\n%s", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
				}
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	env := []string{"VIGIL_API_LISTEN=127.0.0.1:7000", "VIGIL_STORE_RETENTION=2d", "VIGIL_DEMO_ENABLED=true", "HOME=/root", "VIGIL_UNKNOWN=1"}
	c, err := Parse("c.yaml", []byte("api:\n  listen: 127.0.0.1:1\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if c.API.Listen != "127.0.0.1:7000" || time.Duration(c.Store.Retention) != 48*time.Hour || !c.Demo.Enabled {
		t.Fatalf("env not applied: %+v", c)
	}
	_, err = Parse("", nil, []string{"VIGIL_BUS_QUEUE_SIZE=many"})
	if err == nil || !strings.Contains(err.Error(), "env VIGIL_BUS_QUEUE_SIZE: bus.queue_size:") {
		t.Fatalf("bad env value error = %v", err)
	}
	_, err = Parse("", nil, []string{"VIGIL_LOG_LEVEL=shout"})
	if err == nil || !strings.Contains(err.Error(), "env VIGIL_LOG_LEVEL: log.level:") {
		t.Fatalf("env validation error = %v", err)
	}
}

func TestEnvKeysCoverEveryLeaf(t *testing.T) {
	keys := EnvKeys()
	for _, k := range []string{"data_dir", "api.listen", "api.max_body_bytes", "store.retention", "demo.speed"} {
		if keys[k] == "" {
			t.Errorf("no env var for %s", k)
		}
	}
	if keys["api.max_body_bytes"] != "VIGIL_API_MAX_BODY_BYTES" {
		t.Errorf("got %s", keys["api.max_body_bytes"])
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestSizeAndDuration(t *testing.T) {
	for in, want := range map[string]Size{"10": 10, "1KiB": 1024, "4MiB": 4 << 20, "2GB": 2e9, " 7 B ": 7} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "1.5MiB", "MiB", "99999999999999999999"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if s := Size(4 << 20).String(); s != "4MiB" {
		t.Errorf("Size.String = %s", s)
	}
	d, err := ParseDuration("1w")
	if err != nil || time.Duration(d) != 7*24*time.Hour {
		t.Errorf("ParseDuration(1w) = %v, %v", d, err)
	}
}

func FuzzParse(f *testing.F) {
	seed, _ := os.ReadFile("testdata/full.yaml")
	f.Add(seed)
	f.Add([]byte("api: [1, 2]\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data, nil)
		if err == nil {
			if ps := c.Validate(); len(ps) != 0 {
				t.Fatalf("Parse accepted an invalid config: %v", ps)
			}
		}
	})
}

func TestIngestAndSources(t *testing.T) {
	good := `ingest:
  auth:
    bearer_token: s3cret
  files:
    - include: ["/var/log/*.log"]
      service: web
      labels: {env: prod}
sources:
  prometheus:
    - url: http://127.0.0.1:9090
      queries: ["up"]
`
	c, err := Parse("c.yaml", []byte(good), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Sources.Prometheus[0]
	if p.Name != "prometheus-0" || time.Duration(p.Step) != time.Minute || time.Duration(p.Backfill) != 14*24*time.Hour {
		t.Fatalf("source defaults not applied: %+v", p)
	}
	if c.Ingest.Files[0].Labels["env"] != "prod" || c.Ingest.Auth.BearerToken != "s3cret" {
		t.Fatalf("ingest: %+v", c.Ingest)
	}
	bad := `ingest:
  auth:
    bearer_token: a
    basic_username: b
  files:
    - service: web
sources:
  prometheus:
    - url: ftp://x
      queries: []
`
	_, err = Parse("c.yaml", []byte(bad), nil)
	for _, want := range []string{"c.yaml:4: ingest.auth.basic_username", "c.yaml:6: ingest.files[0].include", "c.yaml:9: sources.prometheus[0].url", "c.yaml:10: sources.prometheus[0].queries"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}
