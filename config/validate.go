package config

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/vigilops/vigil/store"
)

// Problem is one validation failure: the key and what is wrong with it.
type Problem struct {
	Key string
	Msg string
}

// Validate checks every setting and returns all problems found.
func (c *Config) Validate() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.DataDir == "" {
		add("data_dir", "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if err := checkListen(c.API.Listen); err != nil {
		add("api.listen", "%v", err)
	}
	if c.API.MaxBodyBytes <= 0 || c.API.MaxBodyBytes > 1<<30 {
		add("api.max_body_bytes", "%s is outside 1B..1GiB", c.API.MaxBodyBytes)
	}
	switch c.API.AnonymousRole {
	case "", store.RoleViewer:
	default:
		add("api.anonymous_role", "%q: only \"\" (none) or viewer may be granted without a token", c.API.AnonymousRole)
	}
	if c.API.ShutdownTimeout <= 0 {
		add("api.shutdown_timeout", "must be positive")
	}
	if c.Store.Backend != "sqlite" {
		add("store.backend", "%q is not supported (supported: sqlite)", c.Store.Backend)
	}
	if time.Duration(c.Store.Retention) < time.Hour {
		add("store.retention", "%s is shorter than the minimum of 1h", c.Store.Retention)
	}
	if c.Store.PruneInterval <= 0 {
		add("store.prune_interval", "must be positive")
	}
	if c.Bus.Backend != "local" {
		add("bus.backend", "%q is not supported (supported: local)", c.Bus.Backend)
	}
	if c.Bus.QueueSize < 1 || c.Bus.QueueSize > 1_000_000 {
		add("bus.queue_size", "%d is outside 1..1000000", c.Bus.QueueSize)
	}
	c.validateIngest(add)
	c.validateCopilot(add)
	c.validateAlerting(add)
	c.Diagnose.validate(add)
	c.Act.validate(add)
	c.Detect.validate(add)
	c.KEDAScaler.validate(add)
	if c.Demo.Speed <= 0 || c.Demo.Speed > 100_000 {
		add("demo.speed", "%g is outside (0, 100000] simulated seconds per second", c.Demo.Speed)
	}
	if st := time.Duration(c.Demo.Step); st < time.Second || st > 10*time.Minute {
		add("demo.step", "%s is outside 1s..10m", c.Demo.Step)
	}
	return ps
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: port %q is not a number in 0..65535", addr, port)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("%q: host %q is neither an IP address nor a host name", addr, host)
	}
	return nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
