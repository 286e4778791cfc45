package api

import (
	_ "embed"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigilops/vigil/store"
)

// OpenAPIPath is where the server serves its OpenAPI document.
const OpenAPIPath = "/api/v1/openapi.yaml"

// openAPIDocument is the OpenAPI 3.0 description of every route under
// /api/v1 and of the health and metrics routes. It is kept beside the code
// rather than generated from it; tests in this package and in app check it
// against the routes actually registered, so it cannot drift unnoticed.
//
//go:embed openapi.yaml
var openAPIDocument []byte

// OpenAPI returns the OpenAPI document, in YAML. The caller must not modify
// the returned slice.
func OpenAPI() []byte { return openAPIDocument }

// registerOpenAPI serves the document without a token, like /healthz: it
// describes the API's shape, not its data, and clients need it before they
// have a token.
func (s *Server) registerOpenAPI() {
	s.Handle("GET "+OpenAPIPath, "", s.serveOpenAPI)
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	h := w.Header()
	// RFC 9512 registers application/yaml.
	h.Set("Content-Type", "application/yaml")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
	return nil
}

// openAPIPublic is the x-vigil-role of routes that need no token.
const openAPIPublic = "public"

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// OpenAPIRoutes lists the operations the OpenAPI document describes as
// routes, with the role each names in x-vigil-role, sorted by pattern: the
// form Routes returns, so the two can be compared. It fails when the
// document does not parse or an operation names no known role.
func OpenAPIRoutes() ([]Route, error) {
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPIDocument, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	var out []Route
	for path, item := range doc.Paths {
		for key, node := range item {
			if !slices.Contains(openAPIMethods, key) {
				continue // summary, parameters and other path-item fields
			}
			var op struct {
				Role string `yaml:"x-vigil-role"`
			}
			if err := node.Decode(&op); err != nil {
				return nil, fmt.Errorf("openapi %s %s: %w", key, path, err)
			}
			rt := Route{Pattern: strings.ToUpper(key) + " " + path}
			switch r := store.Role(op.Role); {
			case op.Role == openAPIPublic:
			case r.Valid():
				rt.Role = r
			default:
				return nil, fmt.Errorf("openapi %s: x-vigil-role %q: want public, viewer, operator or admin", rt.Pattern, op.Role)
			}
			out = append(out, rt)
		}
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Pattern, b.Pattern) })
	return out, nil
}

// OpenAPIDrift compares the served routes (from Routes) with the document.
// missing lists the served routes the document must describe (those under
// /api/v1/ and the health and metrics routes, receivers aside) that it
// lacks or gives another role; extra lists documented routes that are not
// served. Both are empty when the document matches a server with every
// stage on.
func OpenAPIDrift(served []Route) (missing, extra []string, err error) {
	documented, err := OpenAPIRoutes()
	if err != nil {
		return nil, nil, err
	}
	docRole := make(map[string]store.Role, len(documented))
	for _, rt := range documented {
		docRole[rt.Pattern] = rt.Role
	}
	seen := make(map[string]bool, len(served))
	for _, rt := range served {
		seen[rt.Pattern] = true
		if rt.Receiver || !openAPIScope(rt.Pattern) {
			continue
		}
		role, ok := docRole[rt.Pattern]
		switch {
		case !ok:
			missing = append(missing, rt.Pattern+" (not documented)")
		case role != rt.Role:
			missing = append(missing, fmt.Sprintf("%s (served for %s, documented for %s)", rt.Pattern, roleName(rt.Role), roleName(role)))
		}
	}
	for _, rt := range documented {
		if !seen[rt.Pattern] {
			extra = append(extra, rt.Pattern)
		}
	}
	return missing, extra, nil
}

func roleName(r store.Role) string {
	if r == "" {
		return openAPIPublic
	}
	return string(r)
}

// openAPIScope reports whether the document must describe a route: the
// JSON API and the probes, not the UI or other mounted content.
func openAPIScope(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/api/v1/")
}
