package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/store"
)

// TestOpenAPIMatchesApp starts the app with every HTTP stage on and checks
// the API's OpenAPI document against the routes it registered, both ways:
// every route (receivers aside) is documented with its method and role, and
// every documented route is served. A route added, removed or given another
// role without the document following fails here.
func TestOpenAPIMatchesApp(t *testing.T) {
	cfg := testConfig(t)
	// Stages whose routes exist only when they run.
	cfg.Incidents.Enabled = true
	cfg.Diagnose.Enabled = true
	cfg.Detect.Metrics.Enabled = true
	cfg.Ingest.OTLP.Enabled = true
	a := startApp(t, cfg)

	routes := a.api.Routes()
	served := map[string]bool{}
	for _, rt := range routes {
		served[rt.Pattern] = true
	}
	// A guard on the test itself: a stage that silently did not start would
	// let the document be checked against less than the full API.
	for _, p := range []string{
		"GET /healthz", "GET /readyz", "GET /metrics", "GET " + api.OpenAPIPath,
		"GET /api/v1/incidents/{id}/diagnosis", "POST /api/v1/killswitch",
		"GET /api/v1/metrics/band", "GET /api/v1/slos", "GET /api/v1/templates",
	} {
		if !served[p] {
			t.Errorf("%s is not registered: the app did not start every stage", p)
		}
	}

	missing, extra, err := api.OpenAPIDrift(routes)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("routes the OpenAPI document (api/openapi.yaml) lacks or gives another role:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("routes the OpenAPI document describes but the app does not serve:\n  %s", strings.Join(extra, "\n  "))
	}

	// The document is served to callers without a token.
	code, body := get(t, "http://"+a.Addr().String()+api.OpenAPIPath, "")
	if code != http.StatusOK || string(body) != string(api.OpenAPI()) {
		t.Errorf("GET %s without a token = %d, %d bytes; want 200 and the document", api.OpenAPIPath, code, len(body))
	}
}

// TestOpenAPIResponsesMatch drives a running app through its API (events
// and alerts in, an incident out, acknowledged and noted) and checks each
// JSON answer, errors included, against the schema the document gives for
// its method, path and status: every required field present, no field the
// schema does not name, and the JSON types as documented.
func TestOpenAPIResponsesMatch(t *testing.T) {
	cfg := testConfig(t)
	a := startApp(t, cfg)
	base := "http://" + a.Addr().String()
	// An operator token: enough for every route but the admin ones, whose
	// 403 is then checked too.
	secret, hash, err := api.GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateToken(context.Background(), store.Token{
		ID: "op", Name: "op", Role: store.RoleOperator, Hash: hash, CreatedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	adminSecret, adminHash, err := api.GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateToken(context.Background(), store.Token{
		ID: "adm", Name: "adm", Role: store.RoleAdmin, Hash: adminHash, CreatedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	do := func(t *testing.T, method, url, body string) (int, []byte) {
		t.Helper()
		if strings.HasPrefix(url, "/admin") {
			return send(t, method, base+strings.TrimPrefix(url, "/admin"), body, adminSecret)
		}
		return send(t, method, base+url, body, secret)
	}

	var doc map[string]any
	if err := yaml.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, method, route, url, body string) []byte {
		t.Helper()
		code, resp := do(t, method, url, body)
		t.Logf("%s %s: %d, %d bytes", method, url, code, len(resp))
		op, _ := lookup(doc, "paths", route, strings.ToLower(method)).(map[string]any)
		if op == nil {
			t.Fatalf("%s %s is not documented", method, route)
		}
		r := resolveRef(doc, lookup(op, "responses", strconv.Itoa(code)))
		if r == nil {
			t.Fatalf("%s %s: status %d is not documented (body %.300s)", method, url, code, resp)
		}
		if code == http.StatusNoContent {
			return resp
		}
		schema := resolveRef(doc, lookup(r, "content", "application/json", "schema"))
		if schema == nil {
			t.Fatalf("%s %s: status %d has no documented JSON schema (body %.300s)", method, url, code, resp)
		}
		var v any
		if err := json.Unmarshal(resp, &v); err != nil {
			t.Fatalf("%s %s: status %d: body is not JSON: %v", method, url, code, err)
		}
		for _, p := range schemaProblems(doc, schema, v, "$") {
			t.Errorf("%s %s: status %d: %s", method, url, code, p)
		}
		return resp
	}

	// Seed: a change event, and two firing alerts of one service, which the
	// correlator folds into an incident.
	check(t, "POST", "/api/v1/events", "/api/v1/events",
		`[{"kind":"deploy","service":"checkout","summary":"v2","labels":{"team":"shop"}},{"kind":"nope"}]`)
	now := time.Now().UTC()
	alerts := fmt.Sprintf(`[{"labels":{"alertname":"HighLatency","service":"checkout","severity":"critical"},"annotations":{"summary":"slow"},"startsAt":%q},
		{"labels":{"alertname":"ErrorRate","service":"checkout","severity":"critical"},"startsAt":%q}]`,
		now.Add(-time.Minute).Format(time.RFC3339), now.Format(time.RFC3339))
	if code, body := do(t, "POST", "/api/v2/alerts", alerts); code != http.StatusOK {
		t.Fatalf("post alerts: %d %s", code, body)
	}
	var incID string
	waitFor(t, "an incident", 15*time.Second, func() bool {
		_, body := get(t, base+"/api/v1/incidents", secret)
		var r struct {
			Incidents []struct {
				ID string `json:"id"`
			} `json:"incidents"`
		}
		if json.Unmarshal(body, &r) == nil && len(r.Incidents) > 0 {
			incID = r.Incidents[0].ID
		}
		return incID != ""
	})
	var fp string
	waitFor(t, "the alerts stored", 10*time.Second, func() bool {
		_, body := get(t, base+"/api/v1/alerts", secret)
		var r struct {
			Alerts []struct {
				Fingerprint string `json:"fingerprint"`
			} `json:"alerts"`
		}
		if json.Unmarshal(body, &r) == nil && len(r.Alerts) > 0 {
			fp = r.Alerts[0].Fingerprint
		}
		return fp != ""
	})

	tests := []struct{ method, route, url, body string }{
		{"GET", "/healthz", "/healthz", ""},
		{"GET", "/readyz", "/readyz", ""},
		{"GET", "/api/v1/status", "/api/v1/status", ""},
		{"GET", "/api/v1/events", "/api/v1/events?limit=5", ""},
		{"GET", "/api/v1/events", "/api/v1/events?limit=0", ""}, // a 400
		{"GET", "/api/v1/alerts", "/api/v1/alerts?active=true", ""},
		{"GET", "/api/v1/alerts/{fingerprint}/explain", "/api/v1/alerts/" + fp + "/explain", ""},
		{"GET", "/api/v1/alerts/{fingerprint}/explain", "/api/v1/alerts/0123456789abcdef/explain", ""}, // a 404
		{"GET", "/api/v1/incidents", "/api/v1/incidents?status=open", ""},
		{"GET", "/api/v1/incidents/{id}", "/api/v1/incidents/" + incID, ""},
		{"GET", "/api/v1/incidents/{id}", "/api/v1/incidents/nope", ""},
		{"GET", "/api/v1/incidents/{id}/timeline", "/api/v1/incidents/" + incID + "/timeline", ""},
		{"POST", "/api/v1/incidents/{id}/ack", "/api/v1/incidents/" + incID + "/ack", `{"text":"looking"}`},
		{"POST", "/api/v1/incidents/{id}/ack", "/api/v1/incidents/" + incID + "/ack", ""}, // a 409, or 200 if idempotent
		{"POST", "/api/v1/incidents/{id}/notes", "/api/v1/incidents/" + incID + "/notes", `{"text":"a note"}`},
		{"POST", "/api/v1/incidents/{id}/notes", "/api/v1/incidents/" + incID + "/notes", `{"txt":"typo"}`}, // a 400
		{"POST", "/api/v1/incidents/{id}/feedback", "/api/v1/incidents/" + incID + "/feedback", `{"verdict":"true_positive"}`},
		{"POST", "/api/v1/incidents/{id}/merge", "/api/v1/incidents/" + incID + "/merge", `{"into":"nope"}`},
		{"GET", "/api/v1/incidents/{id}/diagnosis", "/api/v1/incidents/nope/diagnosis", ""},
		{"GET", "/api/v1/anomalies", "/api/v1/anomalies", ""},
		{"GET", "/api/v1/metrics/anomalies", "/api/v1/metrics/anomalies", ""},
		{"GET", "/api/v1/metrics/band", "/api/v1/metrics/band?series=up", ""},
		{"GET", "/api/v1/metrics/band", "/api/v1/metrics/band", ""}, // a 400
		{"GET", "/api/v1/series", "/api/v1/series", ""},
		{"GET", "/api/v1/topology/edges", "/api/v1/topology/edges", ""},
		{"GET", "/api/v1/templates", "/api/v1/templates", ""},
		{"GET", "/api/v1/slos", "/api/v1/slos", ""},
		{"GET", "/api/v1/runbooks", "/api/v1/runbooks", ""},
		{"GET", "/api/v1/approvals", "/api/v1/approvals?status=pending", ""},
		{"GET", "/api/v1/executions", "/api/v1/executions", ""},
		{"GET", "/api/v1/killswitch", "/api/v1/killswitch", ""},
		{"GET", "/api/v1/audit/verify", "/api/v1/audit/verify", ""},
		{"GET", "/api/v1/demo", "/api/v1/demo", ""},     // a 404 without the demo
		{"GET", "/api/v1/tokens", "/api/v1/tokens", ""}, // a 403: operator is not enough
		{"POST", "/api/v1/incidents/{id}/resolve", "/api/v1/incidents/" + incID + "/resolve", ""},
		{"GET", "/api/v1/incidents/{id}/timeline", "/api/v1/incidents/" + incID + "/timeline", ""},
		{"POST", "/api/v1/runbooks/{name}/request", "/api/v1/runbooks/nope/request", `{"params":{}}`},
		{"POST", "/api/v1/approvals/{id}/approve", "/api/v1/approvals/nope/approve", ""},
		{"POST", "/api/v1/approvals/{id}/reject", "/api/v1/approvals/nope/reject", `{"comment":"no"}`},
		{"POST", "/api/v1/killswitch", "/api/v1/killswitch", `{"engaged":true}`}, // a 403
		{"POST", "/api/v1/killswitch", "/admin/api/v1/killswitch", `{"engaged":true,"reason":"test"}`},
		{"POST", "/api/v1/killswitch", "/admin/api/v1/killswitch", `{}`},
		{"POST", "/api/v1/tokens", "/admin/api/v1/tokens", `{"name":"ci","role":"viewer","expires_in":"1h"}`},
		{"POST", "/api/v1/tokens", "/admin/api/v1/tokens", `{"name":"ci","role":"root"}`},
		{"GET", "/api/v1/tokens", "/admin/api/v1/tokens", ""},
		// Last, as they revoke the operator token.
		{"DELETE", "/api/v1/tokens/{id}", "/admin/api/v1/tokens/op", ""},
		{"DELETE", "/api/v1/tokens/{id}", "/admin/api/v1/tokens/op", ""}, // a 404
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.url, func(t *testing.T) {
			check(t, tt.method, tt.route, tt.url, tt.body)
		})
	}
}

// send sends one request with an optional JSON body and bearer token.
func send(t *testing.T, method, url, body, token string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// lookup follows keys through nested maps; nil when one is missing.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// resolveRef follows a local $ref (repeatedly); other values pass through.
func resolveRef(doc map[string]any, v any) any {
	for range 10 {
		ref, ok := lookup(v, "$ref").(string)
		if !ok {
			return v
		}
		v = lookup(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
	}
	return v
}

// schemaProblems checks v against the subset of OpenAPI 3.0 schemas the
// document uses: type, properties, required, additionalProperties, items,
// enum, nullable, allOf and oneOf.
func schemaProblems(doc map[string]any, schema, v any, at string) []string {
	s, _ := resolveRef(doc, schema).(map[string]any)
	if s == nil {
		return []string{at + ": no schema"}
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		return []string{at + ": null, and the schema is not nullable"}
	}
	if alts, ok := s["oneOf"].([]any); ok {
		var all []string
		for _, alt := range alts {
			ps := schemaProblems(doc, alt, v, at)
			if len(ps) == 0 {
				return nil
			}
			all = append(all, ps...)
		}
		return append([]string{at + ": matches no oneOf branch"}, all...)
	}
	if parts, ok := s["allOf"].([]any); ok {
		// Merge the parts' properties, so that no part calls the others'
		// fields unknown.
		merged := map[string]any{"type": "object", "properties": map[string]any{}, "required": []any{}}
		for _, p := range parts {
			ps, _ := resolveRef(doc, p).(map[string]any)
			for k, pv := range lookup(ps, "properties").(map[string]any) {
				merged["properties"].(map[string]any)[k] = pv
			}
			req, _ := ps["required"].([]any)
			merged["required"] = append(merged["required"].([]any), req...)
		}
		return schemaProblems(doc, merged, v, at)
	}
	var out []string
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %T", at, v)}
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s: required field %q is missing", at, r))
			}
		}
		for k, fv := range m {
			if ps, ok := props[k]; ok {
				out = append(out, schemaProblems(doc, ps, fv, at+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case map[string]any:
				out = append(out, schemaProblems(doc, ap, fv, at+"."+k)...)
			case bool:
				if !ap {
					out = append(out, fmt.Sprintf("%s: field %q is not documented", at, k))
				}
			default:
				out = append(out, fmt.Sprintf("%s: field %q is not documented", at, k))
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an array, got %T", at, v)}
		}
		for i, e := range l {
			out = append(out, schemaProblems(doc, s["items"], e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: want a string, got %T", at, v)}
		}
		if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, any(str)) {
			out = append(out, fmt.Sprintf("%s: %q is not one of %v", at, str, enum))
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok {
			return []string{fmt.Sprintf("%s: want a number, got %T", at, v)}
		}
		if s["type"] == "integer" && f != float64(int64(f)) {
			out = append(out, fmt.Sprintf("%s: %v is not an integer", at, f))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: want a boolean, got %T", at, v)}
		}
	}
	return out
}
