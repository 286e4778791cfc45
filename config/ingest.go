package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Ingest configures the receivers of telemetry.
type Ingest struct {
	// Auth protects every receiver; empty means open (Vigil listens on
	// loopback by default).
	Auth            IngestAuth `yaml:"auth"`
	MaxBodyBytes    Size       `yaml:"max_body_bytes"`
	MaxDecodedBytes Size       `yaml:"max_decoded_bytes"`
	MaxLineBytes    Size       `yaml:"max_line_bytes"`

	Alertmanager AlertmanagerIngest `yaml:"alertmanager"`
	RemoteWrite  Toggle             `yaml:"remote_write"`
	Loki         Toggle             `yaml:"loki"`
	OTLP         Toggle             `yaml:"otlp"`
	NDJSON       Toggle             `yaml:"ndjson"`
	Syslog       SyslogIngest       `yaml:"syslog"`
	Files        []FileIngest       `yaml:"files"`
}

// Toggle switches a receiver on or off.
type Toggle struct {
	Enabled bool `yaml:"enabled"`
}

// IngestAuth holds the credentials senders present to receivers. A *_file
// setting reads the secret from a file, so it stays out of the config.
type IngestAuth struct {
	BearerToken       string `yaml:"bearer_token"`
	BearerTokenFile   string `yaml:"bearer_token_file"`
	BasicUsername     string `yaml:"basic_username"`
	BasicPassword     string `yaml:"basic_password"`
	BasicPasswordFile string `yaml:"basic_password_file"`
}

// AlertmanagerIngest configures the Alertmanager API v2 and webhook receivers.
type AlertmanagerIngest struct {
	Enabled bool `yaml:"enabled"`
	// ResolveTimeout is the endsAt given to alerts that arrive without one.
	ResolveTimeout Duration `yaml:"resolve_timeout"`
	// Receiver is the receiver name shown to amtool.
	Receiver string `yaml:"receiver"`
	// MaxAlerts bounds the alerts held in memory.
	MaxAlerts int `yaml:"max_alerts"`
}

// SyslogIngest configures the syslog listeners; empty addresses are off.
type SyslogIngest struct {
	UDPListen string `yaml:"udp_listen"`
	TCPListen string `yaml:"tcp_listen"`
}

// FileIngest tails files.
type FileIngest struct {
	Include []string          `yaml:"include"`
	Exclude []string          `yaml:"exclude"`
	Service string            `yaml:"service"`
	Labels  map[string]string `yaml:"labels"`
	// StartAt is where newly found files are read from: end or beginning.
	StartAt string `yaml:"start_at"`
}

// Metrics configures the in-memory series store.
type Metrics struct {
	MemoryLimit  Size     `yaml:"memory_limit"`
	RawRetention Duration `yaml:"raw_retention"`
	Retention    Duration `yaml:"retention"`
}

// Sources are systems Vigil pulls history from.
type Sources struct {
	Prometheus []PrometheusSource `yaml:"prometheus"`
}

// PrometheusSource pulls series from a Prometheus HTTP API.
type PrometheusSource struct {
	Name    string   `yaml:"name"`
	URL     string   `yaml:"url"`
	Queries []string `yaml:"queries"`
	// Step is the query resolution.
	Step Duration `yaml:"step"`
	// Backfill is how much history to load at start.
	Backfill Duration `yaml:"backfill"`
	// Interval is how often to pull new points.
	Interval          Duration `yaml:"interval"`
	Timeout           Duration `yaml:"timeout"`
	BearerToken       string   `yaml:"bearer_token"`
	BearerTokenFile   string   `yaml:"bearer_token_file"`
	BasicUsername     string   `yaml:"basic_username"`
	BasicPassword     string   `yaml:"basic_password"`
	BasicPasswordFile string   `yaml:"basic_password_file"`
}

func defaultIngest() Ingest {
	return Ingest{
		MaxBodyBytes:    16 << 20,
		MaxDecodedBytes: 64 << 20,
		MaxLineBytes:    256 << 10,
		Alertmanager:    AlertmanagerIngest{Enabled: true, ResolveTimeout: Duration(5 * time.Minute), Receiver: "vigil", MaxAlerts: 100_000},
		RemoteWrite:     Toggle{Enabled: true},
		Loki:            Toggle{Enabled: true},
		OTLP:            Toggle{Enabled: true},
		NDJSON:          Toggle{Enabled: true},
	}
}

func defaultMetrics() Metrics {
	return Metrics{MemoryLimit: 256 << 20, RawRetention: Duration(6 * time.Hour), Retention: Duration(14 * 24 * time.Hour)}
}

// normalize fills settings whose defaults depend on their position, such as
// the entries of lists, which Default cannot pre-fill.
func (c *Config) normalize() {
	for i := range c.Sources.Prometheus {
		p := &c.Sources.Prometheus[i]
		if p.Name == "" {
			p.Name = fmt.Sprintf("prometheus-%d", i)
		}
		p.applyDefaults()
	}
}

// applyDefaults fills a source's unset durations.
func (p *PrometheusSource) applyDefaults() {
	if p.Step == 0 {
		p.Step = Duration(time.Minute)
	}
	if p.Backfill == 0 {
		p.Backfill = Duration(14 * 24 * time.Hour)
	}
	if p.Interval == 0 {
		p.Interval = Duration(time.Minute)
	}
	if p.Timeout == 0 {
		p.Timeout = Duration(30 * time.Second)
	}
}

// Secret returns value, or the trimmed content of file when file is set.
func Secret(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (c *Config) validateIngest(add func(key, format string, args ...any)) {
	in := &c.Ingest
	if in.MaxBodyBytes <= 0 || in.MaxBodyBytes > 1<<30 {
		add("ingest.max_body_bytes", "%s is outside 1B..1GiB", in.MaxBodyBytes)
	}
	if in.MaxDecodedBytes < in.MaxBodyBytes || in.MaxDecodedBytes > 4<<30 {
		add("ingest.max_decoded_bytes", "%s must be at least max_body_bytes (%s) and at most 4GiB", in.MaxDecodedBytes, in.MaxBodyBytes)
	}
	if in.MaxLineBytes < 256 || in.MaxLineBytes > 64<<20 {
		add("ingest.max_line_bytes", "%s is outside 256B..64MiB", in.MaxLineBytes)
	}
	checkAuthPair(add, "ingest.auth", in.Auth.BearerToken, in.Auth.BearerTokenFile, in.Auth.BasicUsername, in.Auth.BasicPassword, in.Auth.BasicPasswordFile)
	if in.Alertmanager.ResolveTimeout <= 0 {
		add("ingest.alertmanager.resolve_timeout", "must be positive")
	}
	if in.Alertmanager.Receiver == "" {
		add("ingest.alertmanager.receiver", "must not be empty")
	}
	if in.Alertmanager.MaxAlerts < 1 {
		add("ingest.alertmanager.max_alerts", "must be at least 1")
	}
	for key, addr := range map[string]string{"ingest.syslog.udp_listen": in.Syslog.UDPListen, "ingest.syslog.tcp_listen": in.Syslog.TCPListen} {
		if addr != "" {
			if err := checkListen(addr); err != nil {
				add(key, "%v", err)
			}
		}
	}
	for i, f := range in.Files {
		key := fmt.Sprintf("ingest.files[%d]", i)
		if len(f.Include) == 0 {
			add(key+".include", "needs at least one glob pattern")
		}
		switch f.StartAt {
		case "", "end", "beginning":
		default:
			add(key+".start_at", "%q is not one of end, beginning", f.StartAt)
		}
	}
	m := c.Metrics
	if m.MemoryLimit < 1<<20 {
		add("metrics.memory_limit", "%s is below the minimum of 1MiB", m.MemoryLimit)
	}
	if m.RawRetention <= 0 || m.Retention < m.RawRetention {
		add("metrics.retention", "must be positive and at least raw_retention (%s)", m.RawRetention)
	}
	names := map[string]bool{}
	for i := range c.Sources.Prometheus {
		p := &c.Sources.Prometheus[i]
		key := fmt.Sprintf("sources.prometheus[%d]", i)
		if names[p.Name] {
			add(key+".name", "%q is used twice", p.Name)
		}
		names[p.Name] = true
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(key+".url", "%q is not an http(s) URL", p.URL)
		}
		if len(p.Queries) == 0 {
			add(key+".queries", "needs at least one PromQL query")
		}
		for j, q := range p.Queries {
			if strings.TrimSpace(q) == "" {
				add(fmt.Sprintf("%s.queries[%d]", key, j), "is empty")
			}
		}
		if p.Step <= 0 || p.Interval <= 0 || p.Timeout <= 0 || p.Backfill < 0 {
			add(key, "step, interval and timeout must be positive, backfill not negative")
		}
		checkAuthPair(add, key, p.BearerToken, p.BearerTokenFile, p.BasicUsername, p.BasicPassword, p.BasicPasswordFile)
	}
}

func checkAuthPair(add func(key, format string, args ...any), key, bearer, bearerFile, user, pass, passFile string) {
	if bearer != "" && bearerFile != "" {
		add(key+".bearer_token_file", "set bearer_token or bearer_token_file, not both")
	}
	if pass != "" && passFile != "" {
		add(key+".basic_password_file", "set basic_password or basic_password_file, not both")
	}
	if (bearer != "" || bearerFile != "") && user != "" {
		add(key+".basic_username", "set a bearer token or basic auth, not both")
	}
	if user == "" && (pass != "" || passFile != "") {
		add(key+".basic_username", "a basic password needs a username")
	}
}
