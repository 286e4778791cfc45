package amapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigilops/vigil/telemetry"
)

func TestStatusAndReceivers(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(t, "GET", "/api/v2/status", nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	var st statusBody
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Cluster.Status != "disabled" || st.Cluster.Peers == nil || st.Uptime != "2024-05-01T10:00:00.000Z" ||
		st.VersionInfo.Version != "test" || st.VersionInfo.GoVersion != "go-test" {
		t.Errorf("status %+v", st)
	}
	for _, want := range []string{"resolve_timeout: 5m", `receiver: "vigil"`, `- name: "vigil"`} {
		if !strings.Contains(st.Config.Original, want) {
			t.Errorf("config.original lacks %q:\n%s", want, st.Config.Original)
		}
	}
	if !strings.Contains(w.Body.String(), `"peers":[]`) {
		t.Errorf("peers not an empty array: %s", w.Body)
	}

	w = f.do(t, "GET", "/api/v2/receivers", nil)
	if w.Code != 200 || w.Body.String() != `[{"name":"vigil"}]` {
		t.Fatalf("receivers: %d %s", w.Code, w.Body)
	}
}

func TestStatusDefaults(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Version = VersionInfo{}
		o.ReceiverName = "bad\"name"
		o.ConfigOriginal = ""
	})
	var st statusBody
	if err := json.Unmarshal(f.do(t, "GET", "/api/v2/status", nil).Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.VersionInfo.GoVersion == "" {
		t.Error("goVersion not filled from the runtime")
	}
	// A receiver name that could break the YAML is not written into it.
	if strings.Contains(st.Config.Original, "bad") {
		t.Errorf("config.original carries the unsafe name:\n%s", st.Config.Original)
	}
}

func TestHealthAndAbsentRoutes(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		method, path string
		want         int
		body         string
	}{
		{"GET", "/-/healthy", 200, "OK"},
		{"HEAD", "/-/healthy", 200, ""},
		{"GET", "/-/ready", 200, "OK"},
		{"HEAD", "/-/ready", 200, ""},
		{"POST", "/-/healthy", 405, ""},
		{"GET", "/api/v2/alerts/groups", 404, ""},
		{"GET", "/api/v2/silences", 404, ""},
		{"POST", "/api/v2/silences", 404, ""},
		{"GET", "/api/v2/silence/abc", 404, ""},
		{"DELETE", "/api/v2/alerts", 405, ""},
		{"PUT", "/api/v2/status", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := f.do(t, tc.method, tc.path, nil)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d", w.Code, tc.want)
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Fatalf("body %q, want %q", w.Body, tc.body)
			}
		})
	}
}

func TestServiceName(t *testing.T) {
	tests := []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname", "X"}, ""},
		{[]string{"job", "kubernetes-pods", "container", "api"}, "api"},
		{[]string{"job", "node"}, "node"},
		{[]string{"service", "checkout", "service_name", "other", "job", "j"}, "checkout"},
		{[]string{"service_name", "cart", "app", "x"}, "cart"},
		{[]string{"app_kubernetes_io_name", "web", "app", "x"}, "web"},
		{[]string{"app", "x", "k8s_app", "y"}, "x"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := ServiceName(telemetry.LabelsFromStrings(tc.labels...)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidLabelName(t *testing.T) {
	tests := []struct {
		name         string
		utf8, legacy bool
	}{
		{"alertname", true, true},
		{"_a1", true, true},
		{"A_b", true, true},
		{"", false, false},
		{"1a", true, false},
		{"a-b", true, false},
		{"a.b", true, false},
		{"zürich", true, false},
		{"\xff", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := validLabelName(tc.name, false); got != tc.utf8 {
				t.Errorf("utf8: %v", got)
			}
			if got := validLabelName(tc.name, true); got != tc.legacy {
				t.Errorf("legacy: %v", got)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a sink succeeded")
	}
	if _, err := New(Options{Sink: (&recSink{}).sink(), ResolveTimeout: -1}); err == nil {
		t.Error("negative resolve timeout accepted")
	}
	if _, err := NewWebhook(WebhookOptions{}); err == nil {
		t.Error("NewWebhook without a sink succeeded")
	}
	if _, err := NewWebhook(WebhookOptions{Sink: (&recSink{}).sink(), Path: "no-slash"}); err == nil {
		t.Error("relative webhook path accepted")
	}
	if _, err := NewState(StateOptions{MaxAlerts: -1}); err == nil {
		t.Error("negative max alerts accepted")
	}
	// A literal with only the sink works: zero fields take defaults.
	r, err := New(Options{Sink: (&recSink{}).sink()})
	if err != nil {
		t.Fatal(err)
	}
	if r.opts.ReceiverName != DefaultReceiverName || r.opts.ResolveTimeout != DefaultResolveTimeout || r.State() == nil || r.Name() != "amapi" {
		t.Errorf("defaults not applied: %+v", r.opts)
	}
}
