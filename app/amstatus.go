package app

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/vigilops/vigil/correlate/route"
)

// amStatusConfig renders what GET /api/v2/status reports as
// config.original, which `amtool config show` prints and `amtool config
// routes` parses: the routing tree with every inherited setting resolved,
// and the receivers by name only. Integrations are left out because their
// URLs and keys are secrets; time intervals are left out, and so are the
// routes' references to them, because amtool would have to resolve them.
func amStatusConfig(tree *route.Route, receivers []string, resolveTimeout time.Duration) (string, error) {
	type node struct {
		Receiver       string   `yaml:"receiver"`
		GroupBy        []string `yaml:"group_by,omitempty"`
		Matchers       []string `yaml:"matchers,omitempty"`
		Continue       bool     `yaml:"continue,omitempty"`
		GroupWait      string   `yaml:"group_wait"`
		GroupInterval  string   `yaml:"group_interval"`
		RepeatInterval string   `yaml:"repeat_interval"`
		Routes         []*node  `yaml:"routes,omitempty"`
	}
	var conv func(r *route.Route, root bool) *node
	conv = func(r *route.Route, root bool) *node {
		n := &node{
			Receiver: r.Receiver, Continue: r.Continue && !root,
			GroupWait: model.Duration(r.GroupWait).String(), GroupInterval: model.Duration(r.GroupInterval).String(),
			RepeatInterval: model.Duration(r.RepeatInterval).String(),
		}
		if r.GroupByAll {
			n.GroupBy = []string{"..."}
		} else {
			n.GroupBy = r.GroupBy
		}
		if !root {
			for _, m := range r.Matchers {
				n.Matchers = append(n.Matchers, m.String())
			}
		}
		for _, c := range r.Routes {
			n.Routes = append(n.Routes, conv(c, false))
		}
		return n
	}
	type recv struct {
		Name string `yaml:"name"`
	}
	doc := struct {
		Global    map[string]string `yaml:"global"`
		Route     *node             `yaml:"route"`
		Receivers []recv            `yaml:"receivers"`
	}{
		Global: map[string]string{"resolve_timeout": model.Duration(resolveTimeout).String()},
		Route:  conv(tree, true),
	}
	for _, name := range receivers {
		doc.Receivers = append(doc.Receivers, recv{name})
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("render alertmanager status config: %w", err)
	}
	return "# Vigil's routing tree, as resolved; receivers' integrations are not shown.\n" + string(b), nil
}
