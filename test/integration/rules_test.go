//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// generateRules runs `vigil rules generate` on spec and returns the rule
// file's path and the command's summary.
func generateRules(t *testing.T, spec, dir string) (string, map[string]any) {
	t.Helper()
	out := filepath.Join(dir, "rules.yml")
	cmd := exec.Command(vigilBin, "rules", "generate", "-f", spec, "-o", out, "--json")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("vigil rules generate: %v\n%s", err, stderrOf(err))
	}
	var sum map[string]any
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatalf("summary %q: %v", b, err)
	}
	return out, sum
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// promtool runs promtool with args and fails the test unless it succeeds.
func promtool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtoolAcceptsGeneratedRules generates the example spec's rules
// and has Prometheus' own promtool (Debian package) check them, lint
// included, and unit-test the SLO burn-rate alerts: a burst of errors
// pages on the 1h/5m pair only and stops paging once the errors stop, and
// a latency SLI (good = the histogram bucket at the threshold) pages too.
func TestPromtoolAcceptsGeneratedRules(t *testing.T) {
	bin := requireBinary(t, "promtool")
	dir := t.TempDir()
	rules, sum := generateRules(t, "../../rules/testdata/spec.yaml", dir)

	out := promtool(t, bin, "check", "rules", "--lint-fatal", rules)
	total := int(sum["recording_rules"].(float64) + sum["alerting_rules"].(float64))
	if want := "SUCCESS: " + itoa(total) + " rules found"; !strings.Contains(out, want) {
		t.Errorf("promtool check rules said %q, want %q", out, want)
	}

	// Checkout serves 1000 requests a minute (one sample every 5m); errors
	// start at minute 4320 (three clean days) at 100 a minute and stop
	// after 20 minutes. At minute 4335 the 1h window holds 2000 errors in
	// 62000 requests (3.226%, over 14.4 x 0.1%) and so does the 5m one,
	// but 6h (0.55%) stays under 6x, 1d and 3d under 3x and 1x.
	test := `rule_files: [rules.yml]
evaluation_interval: 5m
tests:
  - interval: 5m
    input_series:
      - series: 'http_requests_total{service="checkout",code="200"}'
        values: '0+5000x900'
      - series: 'http_requests_total{service="checkout",code="500"}'
        values: '0x863 500+500x3 2000x50'
    alert_rule_test:
      - eval_time: 4315m
        alertname: SLOBurnRate
        exp_alerts: []
      - eval_time: 4335m
        alertname: SLOBurnRate
        exp_alerts:
          - exp_labels: {slo: checkout-availability, service: checkout, severity: page, window: 1h}
            exp_annotations:
              summary: SLO checkout-availability of checkout is burning its error budget over 1h and 5m (threshold 14.4x)
              description: Error ratio 3.226% over 1h, more than 14.4 times the budget of 0.1% (objective 99.9% over 30d).
              slo_description: Checkout requests answered without a server error.
      - eval_time: 4345m
        alertname: SLOBurnRate
        exp_alerts: []
  # The latency SLI (good = requests under 300ms): from minute 4320 only
  # 1000 of 5000 requests a step are fast, so the 1h window holds 16000
  # slow requests in 60000 (26.67%, over 14.4 x 1%), 6h only 4.4%.
  - interval: 5m
    input_series:
      - series: 'http_request_duration_seconds_count{service="payments"}'
        values: '0+5000x900'
      - series: 'http_request_duration_seconds_bucket{service="payments",le="0.3"}'
        values: '0+5000x863 4316000+1000x36'
    alert_rule_test:
      - eval_time: 4335m
        alertname: SLOBurnRate
        exp_alerts:
          - exp_labels: {slo: payments-latency, service: payments, severity: page, window: 1h, team: payments}
            exp_annotations:
              summary: SLO payments-latency of payments is burning its error budget over 1h and 5m (threshold 14.4x)
              description: Error ratio 26.67% over 1h, more than 14.4 times the budget of 1% (objective 99% over 30d).
`
	testFile := filepath.Join(dir, "slo_test.yml")
	if err := os.WriteFile(testFile, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	out = promtool(t, bin, "test", "rules", testFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules said %q", out)
	}
	t.Logf("promtool check rules: %d rules; test rules: %s", total, strings.TrimSpace(out))
}

// TestPromtoolBaselineAndSpikeRulesFire unit-tests the z-score and
// sudden-derivative rules in promtool: a queue flat at 10 for two hours
// has no spread (so no z-score and no alert), then jumps to 30; both the
// baseline and the spike alert must fire within minutes and the baseline
// one must end once the jump is part of the baseline.
func TestPromtoolBaselineAndSpikeRulesFire(t *testing.T) {
	bin := requireBinary(t, "promtool")
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(spec, []byte(`baselines:
  - name: queue_depth
    expr: sum by (service) (queue_depth)
    by: [service]
    window: 1h
    direction: up
    for: 2m
spikes:
  - name: queue_growth
    expr: sum by (service) (queue_depth)
    by: [service]
    deriv_window: 5m
    window: 1h
    for: 1m
`), 0o644); err != nil {
		t.Fatal(err)
	}
	rules, _ := generateRules(t, spec, dir)
	promtool(t, bin, "check", "rules", "--lint-fatal", rules)
	// With n of the 61 points of the hour at 30 and the rest at 10, the
	// z-score of 30 is sqrt((61-n)/n): over 3 up to n = 6.
	test := `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'queue_depth{service="a",instance="x"}'
        values: '10x119 30x40'
    promql_expr_test:
      - expr: ALERTS{alertstate="firing"}
        eval_time: 119m
        exp_samples: []
      - expr: ALERTS{alertstate="firing"}
        eval_time: 123m
        exp_samples:
          - labels: 'ALERTS{alertname="QueueDepthAnomaly",alertstate="firing",service="a",severity="warning"}'
            value: 1
          - labels: 'ALERTS{alertname="QueueGrowthSpike",alertstate="firing",service="a",severity="warning"}'
            value: 1
      - expr: ALERTS{alertname="QueueDepthAnomaly"}
        eval_time: 135m
        exp_samples: []
`
	testFile := filepath.Join(dir, "baseline_test.yml")
	if err := os.WriteFile(testFile, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	out := promtool(t, bin, "test", "rules", testFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules said %q", out)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
