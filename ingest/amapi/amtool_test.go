package amapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAmtool drives the real amtool (Debian package prometheus-alertmanager,
// amtool 0.25) against the receiver. It skips when amtool is not installed.
func TestAmtool(t *testing.T) {
	bin, err := exec.LookPath("amtool")
	if err != nil {
		t.Skip("amtool not installed (apt-get install prometheus-alertmanager)")
	}
	f := newFixture(t, func(o *Options) { o.Now = time.Now })
	srv := httptest.NewServer(f.mux)
	defer srv.Close()
	home := t.TempDir() // keep the user's amtool config out

	run := func(t *testing.T, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--alertmanager.url=" + srv.URL}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
		// amtool compares its version with GET /api/v2/status and warns on
		// stderr when they differ, which they always do: keep stdout apart.
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("amtool %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return string(out)
	}

	run(t, "alert", "add", "AmtoolTest", "severity=warning", "service=checkout", "--annotation=summary=from amtool")
	run(t, "alert", "add", "alertname=Other", "severity=critical")
	// Resolved at once: an end in the past.
	run(t, "alert", "add", "alertname=Ended", "--start="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "--end="+time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	if n := len(f.sink.got()); n != 3 {
		t.Fatalf("sink got %d alerts from amtool alert add", n)
	}

	var got []gettableAlertJSON
	if out := run(t, "-o", "json", "alert", "query"); json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("amtool -o json output:\n%s", out)
	}
	if ns := strings.Join(sortedNames(got), ","); ns != "AmtoolTest,Other" {
		t.Fatalf("query listed %s", ns)
	}
	if got[0].Status.State != "active" {
		t.Errorf("state %q", got[0].Status.State)
	}

	tests := []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"alert", "query"}, []string{"AmtoolTest", "Other", "from amtool"}, []string{"Ended"}},
		{[]string{"alert", "query", "AmtoolTest"}, []string{"AmtoolTest"}, []string{"Other"}},
		{[]string{"alert", "query", "severity=~crit.*"}, []string{"Other"}, []string{"AmtoolTest"}},
		{[]string{"alert", "query", `service!="checkout"`}, []string{"Other"}, []string{"AmtoolTest"}},
		{[]string{"alert", "query", "severity=~.+", "service=checkout"}, []string{"AmtoolTest"}, []string{"Other"}},
		{[]string{"alert", "query", "--receiver=vigil"}, []string{"AmtoolTest", "Other"}, nil},
		{[]string{"alert", "query", "--receiver=nobody"}, nil, []string{"AmtoolTest", "Other"}},
		{[]string{"alert", "query", "--silenced"}, nil, []string{"AmtoolTest"}},
		{[]string{"-o", "extended", "alert", "query"}, []string{"AmtoolTest", "summary=\"from amtool\"", "active"}, nil},
		{[]string{"config", "show"}, []string{"resolve_timeout: 5m", "vigil"}, nil},
		{[]string{"config", "routes"}, []string{"vigil"}, nil},
		{[]string{"cluster", "show"}, []string{"disabled"}, nil},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out := run(t, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("output has %q:\n%s", n, out)
				}
			}
		})
	}
}

func sortedNames(as []gettableAlertJSON) []string {
	ns := names(as)
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && ns[j] < ns[j-1]; j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
	return ns
}
