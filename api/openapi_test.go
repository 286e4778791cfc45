package api

import (
	"bytes"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vigilops/vigil/store"
)

// openAPIDoc parses the embedded document into plain maps and slices.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentParses(t *testing.T) {
	doc := openAPIDoc(t)
	v, _ := doc["openapi"].(string)
	if !strings.HasPrefix(v, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	for _, k := range []string{"title", "version"} {
		if s, _ := info[k].(string); s == "" {
			t.Errorf("info.%s is missing", k)
		}
	}
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("no paths")
	}
	comps, _ := doc["components"].(map[string]any)
	schemes, _ := comps["securitySchemes"].(map[string]any)
	bearer, _ := schemes["bearerAuth"].(map[string]any)
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("securitySchemes.bearerAuth = %v, want an http bearer scheme", bearer)
	}
	errSchema, _ := comps["schemas"].(map[string]any)["Error"].(map[string]any)
	if errSchema == nil {
		t.Fatal("components.schemas.Error is missing")
	}
	inner, _ := errSchema["properties"].(map[string]any)["error"].(map[string]any)
	props, _ := inner["properties"].(map[string]any)
	for _, f := range []string{"status", "code", "message", "details"} {
		if props[f] == nil {
			t.Errorf("Error schema lacks error.%s", f)
		}
	}
}

// TestOpenAPIErrorCodes checks that the Error schema lists every code the
// package defines, so a new code cannot be added without documenting it.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := openAPIDoc(t)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	code := schemas["Error"].(map[string]any)["properties"].(map[string]any)["error"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)
	var enum []string
	for _, v := range code["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	for _, c := range []string{CodeBadRequest, CodeUnauthorized, CodeForbidden, CodeNotFound, CodeMethodNotAllowed,
		CodePayloadTooLarge, CodeUnsupportedMediaType, CodeTooManyRequests, CodeInternal, CodeUnavailable, "conflict"} {
		if !slices.Contains(enum, c) {
			t.Errorf("Error.code enum lacks %q", c)
		}
	}
}

// TestOpenAPIRefsResolve walks the document and checks that every local
// $ref points at something.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := openAPIDoc(t)
	refs := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs++
				if !strings.HasPrefix(ref, "#/") {
					t.Errorf("%s: $ref %q is not local", path, ref)
				} else if resolve(doc, ref) == nil {
					t.Errorf("%s: $ref %q resolves to nothing", path, ref)
				}
			}
			for k, e := range v {
				walk(path+"/"+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		}
	}
	walk("", doc)
	if refs == 0 {
		t.Error("no $ref found: the walk is broken")
	}
}

func resolve(doc map[string]any, ref string) any {
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPIOperations checks each operation: a known role, public ones
// opting out of the bearer scheme and no others, a unique operationId,
// responses, and every path parameter declared.
func TestOpenAPIOperations(t *testing.T) {
	doc := openAPIDoc(t)
	ids := map[string]string{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, v := range item.(map[string]any) {
			if !slices.Contains(openAPIMethods, method) {
				continue
			}
			name := strings.ToUpper(method) + " " + path
			t.Run(name, func(t *testing.T) {
				op := v.(map[string]any)
				role, _ := op["x-vigil-role"].(string)
				switch role {
				case openAPIPublic:
					sec, ok := op["security"].([]any)
					if !ok || len(sec) != 0 {
						t.Errorf("public route must set security: [], has %v", op["security"])
					}
				case "viewer", "operator", "admin":
					if _, ok := op["security"]; ok {
						t.Errorf("route for %s overrides the document's security", role)
					}
				default:
					t.Errorf("x-vigil-role = %q", role)
				}
				if method != "get" && role != "operator" && role != "admin" {
					t.Errorf("%s needs operator or admin, documented as %q", method, role)
				}
				id, _ := op["operationId"].(string)
				if id == "" {
					t.Error("no operationId")
				} else if prev, dup := ids[id]; dup {
					t.Errorf("operationId %q also used by %s", id, prev)
				}
				ids[id] = name
				if rs, _ := op["responses"].(map[string]any); len(rs) == 0 {
					t.Error("no responses")
				}
				declared := map[string]bool{}
				params, _ := op["parameters"].([]any)
				for _, p := range params {
					pm := p.(map[string]any)
					if ref, ok := pm["$ref"].(string); ok {
						pm, _ = resolve(doc, ref).(map[string]any)
					}
					if pm["in"] == "path" {
						declared[pm["name"].(string)] = true
						if pm["required"] != true {
							t.Errorf("path parameter %v must be required", pm["name"])
						}
					}
				}
				for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
					if !declared[m[1]] {
						t.Errorf("path parameter {%s} is not declared", m[1])
					}
					delete(declared, m[1])
				}
				for p := range declared {
					t.Errorf("path parameter %q is not in the path", p)
				}
			})
		}
	}
}

// TestOpenAPIMatchesServer checks the routes this package registers (the
// built-ins and the incident routes) against the document. The other
// packages' routes are checked by app's TestOpenAPIMatchesApp.
func TestOpenAPIMatchesServer(t *testing.T) {
	env := newTestEnv(t, nil)
	env.s.HandleIncidents(nil) // registration only; no request reaches it
	missing, extra, err := OpenAPIDrift(env.s.Routes())
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("served but not documented as served:\n  %s", strings.Join(missing, "\n  "))
	}
	for _, p := range []string{"GET /healthz", "GET /api/v1/tokens", "POST /api/v1/incidents/{id}/split", "GET " + OpenAPIPath} {
		if slices.Contains(extra, p) {
			t.Errorf("%s is served but reported as not served", p)
		}
	}
}

func TestOpenAPIDrift(t *testing.T) {
	noop := func(http.ResponseWriter, *http.Request) error { return nil }
	tests := []struct {
		name        string
		register    func(s *Server)
		wantMissing string
		wantExtra   string
	}{
		{
			name:        "undocumented route",
			register:    func(s *Server) { s.Handle("GET /api/v1/nowhere", store.RoleViewer, noop) },
			wantMissing: "GET /api/v1/nowhere (not documented)",
		},
		{
			name:        "role differs",
			register:    func(s *Server) { s.Handle("GET /api/v1/killswitch", store.RoleAdmin, noop) },
			wantMissing: "GET /api/v1/killswitch (served for admin, documented for viewer)",
		},
		{
			name:     "routes outside the JSON API are not the document's business",
			register: func(s *Server) { s.Handle("GET /ui/", "", noop) },
		},
		{
			name:      "receivers are not the document's business",
			register:  func(s *Server) { s.Mount("POST /api/v1/write", http.NotFoundHandler()) },
			wantExtra: "GET /api/v1/killswitch",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			tt.register(env.s)
			missing, extra, err := OpenAPIDrift(env.s.Routes())
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantMissing == "" && len(missing) > 0 {
				t.Errorf("missing = %q, want none", missing)
			}
			if tt.wantMissing != "" && !slices.Contains(missing, tt.wantMissing) {
				t.Errorf("missing = %q, want it to hold %q", missing, tt.wantMissing)
			}
			if tt.wantExtra != "" && !slices.Contains(extra, tt.wantExtra) {
				t.Errorf("extra = %q, want it to hold %q", extra, tt.wantExtra)
			}
		})
	}
}

func TestOpenAPIRoutesRejectsBadDocuments(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"not yaml", "paths: [", "parse openapi document"},
		{"unknown role", "paths:\n  /x:\n    get:\n      x-vigil-role: root\n", `x-vigil-role "root"`},
		{"no role", "paths:\n  /x:\n    post:\n      summary: s\n", `POST /x: x-vigil-role ""`},
	}
	saved := openAPIDocument
	t.Cleanup(func() { openAPIDocument = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			openAPIDocument = []byte(tt.doc)
			_, err := OpenAPIRoutes()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	env := newTestEnv(t, nil) // no anonymous role: protected routes need a token
	if rec := env.do(t, "GET", "/api/v1/status", "", ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("status without token = %d, want 401 (the test needs auth on)", rec.Code)
	}
	rec := env.do(t, "GET", OpenAPIPath, "", "")
	wantStatus(t, rec, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), OpenAPI()) {
		t.Error("served body differs from the embedded document")
	}
	rec = env.do(t, "POST", OpenAPIPath, "", "")
	wantError(t, rec, http.StatusMethodNotAllowed)
}
