package rca

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigilops/vigil/diagnose"
)

// petShopStep is PetShop's CloudWatch resolution.
const petShopStep = 5 * time.Minute

// PetShopTarget is the part of a PetShop target.json the loader reads.
type PetShopTarget struct {
	Target struct {
		Node      string  `json:"node"`
		Metric    string  `json:"metric"`
		Timestamp float64 `json:"timestamp"`
	} `json:"target"`
	RootCause struct {
		Node string `json:"node"`
	} `json:"root_cause"`
}

// LoadPetShop loads PetShop's dataset folder: per scenario graph.csv,
// noissue/metrics.csv and {train,test}/issue_N/{metrics.csv,target.json}.
// Train and test issues are all cases (the ranker learns nothing from
// them). The issue's rows from the 5-minute bucket holding the target
// timestamp on are the anomalous period, the noissue file the normal one;
// the node where the issue was observed is the incident's symptom.
//
// low_traffic and high_traffic form the "petshop" dataset. The temporal
// scenarios have no noissue file in the shared copy: they are reported
// apart as "petshop-temporal", judged against the low-traffic normal
// period, which is the nearest normal data there is.
func LoadPetShop(dir string) ([]Dataset, error) {
	main := Dataset{Name: "petshop"}
	temporal := Dataset{Name: "petshop-temporal", Note: "no normal period in this copy: judged against low_traffic's"}
	var fallback []diagnose.Series
	var fallbackW diagnose.Window
	for _, sc := range []string{"low_traffic", "high_traffic", "temporal_traffic1", "temporal_traffic2"} {
		p := filepath.Join(dir, sc)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		gdata, err := readFile(filepath.Join(p, "graph.csv"))
		if err != nil {
			return nil, fmt.Errorf("petshop %s: %w", sc, err)
		}
		edges, err := ParsePetShopGraph(gdata)
		if err != nil {
			return nil, fmt.Errorf("petshop %s: %w", sc, err)
		}
		edges, alias := petShopObservers(edges)
		graph := diagnose.NewGraph(diagnose.GraphSpec{Source: "dataset", Edges: edges, External: petShopInferred(edges)})
		var normal []diagnose.Series
		var nw diagnose.Window
		if data, err := readFile(filepath.Join(p, "noissue", "metrics.csv")); err == nil {
			normal, nw, err = ParsePetShopMetrics(data)
			if err != nil {
				return nil, fmt.Errorf("petshop %s noissue: %w", sc, err)
			}
			normal = renameObservers(normal, alias)
			if fallback == nil {
				fallback, fallbackW = normal, nw
			}
		} else if !os.IsNotExist(err) {
			return nil, fmt.Errorf("petshop %s: %w", sc, err)
		}
		ds := &main
		if normal == nil {
			ds = &temporal
			normal, nw = fallback, fallbackW
		}
		if normal == nil {
			continue
		}
		issues, _ := filepath.Glob(filepath.Join(p, "*", "issue_*"))
		sort.Strings(issues)
		for _, is := range issues {
			c, err := loadPetShopIssue(is, normal, nw, graph, alias)
			if err != nil {
				return nil, fmt.Errorf("petshop %s: %w", sc, err)
			}
			rel, _ := filepath.Rel(dir, is)
			c.Dataset, c.Name, c.Group = ds.Name, rel, sc
			ds.Cases = append(ds.Cases, c)
		}
	}
	var out []Dataset
	for _, d := range []Dataset{main, temporal} {
		if len(d.Cases) > 0 {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no PetShop scenario with issues under %s", ErrLayout, dir)
	}
	return out, nil
}

func loadPetShopIssue(dir string, normal []diagnose.Series, nw diagnose.Window, g *diagnose.Graph, alias map[string]string) (Case, error) {
	tdata, err := readFile(filepath.Join(dir, "target.json"))
	if err != nil {
		return Case{}, err
	}
	tgt, err := ParsePetShopTarget(tdata)
	if err != nil {
		return Case{}, fmt.Errorf("%s: %w", dir, err)
	}
	mdata, err := readFile(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		return Case{}, err
	}
	anom, aw, err := ParsePetShopMetrics(mdata)
	if err != nil {
		return Case{}, fmt.Errorf("%s: %w", dir, err)
	}
	anom = renameObservers(anom, alias)
	at := time.UnixMilli(int64(tgt.Target.Timestamp * 1000)).UTC()
	in := diagnose.Input{
		Normal:    nw,
		Anomalous: diagnose.Window{Start: at.Add(-petShopStep), End: aw.End},
		Graph:     g,
		Symptoms:  []string{tgt.Target.Node},
	}
	if !in.Anomalous.End.After(in.Anomalous.Start) {
		return Case{}, fmt.Errorf("%s: %w: target time %s is after the last row", dir, ErrLayout, at.Format(time.RFC3339))
	}
	// The noissue period was recorded at another time; it is moved to end
	// just before the issue's first row, so that the issue's rows before
	// the target time (same day, same traffic) join the normal period.
	shift := aw.Start.Add(-petShopStep).Sub(nw.End.Add(-petShopStep))
	in.Normal = diagnose.Window{Start: nw.Start.Add(shift), End: in.Anomalous.Start}
	in.Series = mergeSeries(shiftSeries(normal, shift), slice(anom, aw.Start, in.Anomalous.End))
	return Case{Input: in, RootCause: tgt.RootCause.Node}, nil
}

// ParsePetShopTarget reads a target.json.
func ParsePetShopTarget(data []byte) (PetShopTarget, error) {
	var t PetShopTarget
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("target.json: %w", err)
	}
	if t.Target.Node == "" || t.RootCause.Node == "" || !(t.Target.Timestamp > 0 && t.Target.Timestamp < 1e11) {
		return t, fmt.Errorf("target.json: %w: needs target.node, target.timestamp and root_cause.node", ErrLayout)
	}
	return t, nil
}

// ParsePetShopGraph reads graph.csv, an adjacency matrix whose first row
// and first column name the nodes; a non-zero cell is a call from the
// row's node to the column's.
func ParsePetShopGraph(data []byte) ([]diagnose.Edge, error) {
	t, err := readTable(data, "graph.csv")
	if err != nil {
		return nil, err
	}
	var edges []diagnose.Edge
	for _, row := range t.rows {
		from := t.cell(row, 0)
		if from == "" {
			continue
		}
		for j := 1; j < len(row) && j < len(t.header); j++ {
			v := parseFloat(row[j])
			if v == v && v != 0 {
				edges = append(edges, diagnose.Edge{From: from, To: strings.TrimSpace(t.header[j])})
			}
		}
	}
	if len(edges) == 0 {
		return nil, fmt.Errorf("graph.csv: %w: no edges", ErrLayout)
	}
	return edges, nil
}

// ParsePetShopMetrics reads a metrics.csv: three header rows (microservice,
// metric, statistic), a unix_timestamp row, then one row per 5 minutes.
func ParsePetShopMetrics(data []byte) ([]diagnose.Series, diagnose.Window, error) {
	t, err := readTable(data, "metrics.csv")
	if err != nil {
		return nil, diagnose.Window{}, err
	}
	if len(t.rows) < 3 || strings.TrimSpace(t.header[0]) != "microservice" || t.cell(t.rows[0], 0) != "metric" || t.cell(t.rows[1], 0) != "statistic" {
		return nil, diagnose.Window{}, fmt.Errorf("metrics.csv: %w: want header rows microservice, metric, statistic", ErrLayout)
	}
	metric, stat := t.rows[0], t.rows[1]
	ss := newSeriesSet()
	var ts []int64
	for _, row := range t.rows[2:] {
		ms, ok := unixMilli(t.cell(row, 0))
		if !ok {
			continue // the unix_timestamp label row
		}
		ts = append(ts, ms)
		for c := 1; c < len(row); c++ {
			node := strings.TrimSpace(t.header[c])
			m, st := t.cell(metric, c), t.cell(stat, c)
			kind, ok := petShopKind(m)
			if !ok || node == "" {
				continue
			}
			ss.add(node, m+"_"+st, kind, ms, parseFloat(row[c]))
		}
	}
	if len(ts) == 0 {
		return nil, diagnose.Window{}, fmt.Errorf("metrics.csv: %w: no timestamped rows", ErrLayout)
	}
	return ss.out, span(ts, petShopStep), nil
}

func petShopKind(m string) (diagnose.Kind, bool) {
	switch m {
	case "latency":
		return diagnose.KindLatency, true
	case "requests":
		return diagnose.KindTraffic, true
	case "availability":
		return diagnose.KindAvailability, true
	}
	return "", false
}

// mergeSeries joins two sets of series by (service, name).
func mergeSeries(a, b []diagnose.Series) []diagnose.Series {
	idx := map[[2]string]int{}
	out := make([]diagnose.Series, 0, len(a)+len(b))
	for _, s := range a {
		idx[[2]string{s.Service, s.Name}] = len(out)
		s.Points = slices.Clone(s.Points)
		out = append(out, s)
	}
	for _, s := range b {
		k := [2]string{s.Service, s.Name}
		if i, ok := idx[k]; ok {
			out[i].Points = append(out[i].Points, s.Points...)
			continue
		}
		idx[k] = len(out)
		out = append(out, s)
	}
	return out
}

// petShopObservers handles X-Ray's inferred nodes. A node named *_remote is
// a caller's view of a call leaving it (to a load balancer's DNS name, an
// AWS API), and *_client the caller side of calls into a service: neither
// is a component of its own. Their series become series of the service
// whose view they are (the remote node's caller, the client node's callee)
// and their edges are dropped. alias maps each such node to that service.
func petShopObservers(edges []diagnose.Edge) ([]diagnose.Edge, map[string]string) {
	alias := map[string]string{}
	for _, e := range edges {
		if strings.HasSuffix(e.To, "_remote") {
			if _, ok := alias[e.To]; !ok {
				alias[e.To] = e.From
			}
		}
		if strings.HasSuffix(e.From, "_client") {
			if _, ok := alias[e.From]; !ok {
				alias[e.From] = e.To
			}
		}
	}
	kept := edges[:0:0]
	for _, e := range edges {
		if _, ok := alias[e.From]; ok {
			continue
		}
		if _, ok := alias[e.To]; ok {
			continue
		}
		kept = append(kept, e)
	}
	return kept, alias
}

func renameObservers(ss []diagnose.Series, alias map[string]string) []diagnose.Series {
	out := make([]diagnose.Series, len(ss))
	for i, s := range ss {
		if a, ok := alias[s.Service]; ok {
			s.Name = s.Name + "{observed_as=\"" + s.Service + "\"}"
			s.Service = a
		}
		out[i] = s
	}
	return out
}

func shiftSeries(ss []diagnose.Series, d time.Duration) []diagnose.Series {
	out := make([]diagnose.Series, len(ss))
	for i, s := range ss {
		pts := slices.Clone(s.Points)
		for j := range pts {
			pts[j].T += d.Milliseconds()
		}
		s.Points = pts
		out[i] = s
	}
	return out
}

// petShopInferred returns the nodes X-Ray infers from their callers'
// subsegments rather than from segments of their own: AWS services called
// through the SDK (S3, DynamoDB, SQS, SNS, ...) and SQL databases. Their
// metrics are what their callers measured while waiting on them, so they
// are external in diagnose's sense: no telemetry of their own. Compute
// that reports its own segments (ECS tasks, Lambda functions, API Gateway
// stages, Step Functions) is not.
func petShopInferred(edges []diagnose.Edge) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range edges {
		for _, n := range []string{e.From, e.To} {
			if seen[n] {
				continue
			}
			seen[n] = true
			i := strings.LastIndex(n, "_")
			if i < 0 {
				continue
			}
			typ := n[i+1:]
			if !strings.HasPrefix(typ, "AWS::") && !strings.HasPrefix(typ, "Database::") {
				continue
			}
			own := false
			for _, p := range []string{"AWS::ECS::", "AWS::Lambda", "AWS::ApiGateway::", "AWS::StepFunctions", "AWS::EC2::", "AWS::EKS::"} {
				own = own || strings.HasPrefix(typ, p)
			}
			if !own {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}
