package rca

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/telemetry"
)

// Nezha case windows: a fault lasts three minutes and metrics are
// one-minute aggregates stamped at the end of their minute, so the four
// points after the injection cover it. Everything recorded that day before
// the fault, less the other faults' windows, is the normal period (as
// RCAEval takes the data before the fault time): a day's faults come every
// eight minutes, so an hour before a fault holds only some twenty usable
// minutes, too few to judge a series' normal range.
//
// For the day's first fault, which comes minutes after recording began,
// the hour after it (nezhaNormal) is the normal period instead.
const (
	nezhaFault  = 4 * time.Minute
	nezhaNormal = time.Hour
	nezhaStep   = time.Minute
	// nezhaRecover is left out after a fault before data counts as
	// normal again; nezhaMinNormal is the least normal history before a
	// fault that is used.
	nezhaRecover   = 2 * time.Minute
	nezhaMinNormal = 15 * time.Minute
)

// NezhaFault is one entry of <day>-fault_list.json.
type NezhaFault struct {
	InjectTime string `json:"inject_time"`
	Pod        string `json:"inject_pod"`
	Type       string `json:"inject_type"`
}

// LoadNezha loads Nezha's rca_data folder: per day a fault list and
// metric/ with one <pod>_metric.csv per pod, front_service.csv (the
// frontend's success rate and latency), source_50.csv and
// destination_50.csv (latency per call edge) and dependency.csv (the call
// graph). This copy holds metrics only (no logs or traces). Each case also
// gets, per call edge, the time its calls spent outside the callee
// (diagnose.CallNetwork over the two ends' latencies).
func LoadNezha(dir string) ([]Dataset, error) {
	days, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read nezha folder: %w", err)
	}
	ds := Dataset{Name: "nezha-ob", Note: "metrics only in this copy (no logs, no traces)"}
	for _, d := range days {
		if !d.IsDir() {
			continue
		}
		p := filepath.Join(dir, d.Name())
		fdata, err := readFile(filepath.Join(p, d.Name()+"-fault_list.json"))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("nezha %s: %w", d.Name(), err)
		}
		faults, err := ParseNezhaFaults(fdata)
		if err != nil {
			return nil, fmt.Errorf("nezha %s: %w", d.Name(), err)
		}
		series, graph, err := loadNezhaDay(filepath.Join(p, "metric"))
		if err != nil {
			return nil, fmt.Errorf("nezha %s: %w", d.Name(), err)
		}
		ats := make([]time.Time, len(faults))
		for i, f := range faults {
			at, err := time.Parse(time.DateTime, f.InjectTime)
			if err != nil {
				return nil, fmt.Errorf("nezha %s fault %d: %w: inject_time %q", d.Name(), i, ErrLayout, f.InjectTime)
			}
			ats[i] = at
		}
		first := dataStart(series)
		for i, f := range faults {
			at := ats[i]
			// Points stamped up to a minute before the injection already
			// show it (one-minute aggregates, clocks a few seconds apart),
			// so the anomalous period starts a step early.
			from := at.Add(-nezhaStep)
			in := diagnose.Input{
				Normal:    diagnose.Window{Start: first, End: from},
				Anomalous: diagnose.Window{Start: from, End: at.Add(nezhaFault)},
				Graph:     graph,
			}
			if at.Sub(first) < nezhaMinNormal {
				// The day's first fault comes minutes after recording
				// began: the hour after it is the normal period instead.
				in.Normal = diagnose.Window{Start: at.Add(nezhaFault + nezhaRecover), End: at.Add(nezhaFault + nezhaRecover + nezhaNormal)}
			}
			lo, hi := minTime(in.Normal.Start, in.Anomalous.Start), maxTime(in.Normal.End, in.Anomalous.End)
			in.Series = slice(series, lo, hi)
			// Normal means no fault injected: the windows of the other
			// faults (and their recovery) are cut out of the normal period.
			for j, other := range ats {
				if j != i {
					in.Series = cut(in.Series, other.Add(-nezhaStep), other.Add(nezhaFault+nezhaRecover))
				}
			}
			in.Series = addCallNetwork(in.Series, in.Normal)
			ds.Cases = append(ds.Cases, Case{
				Dataset: ds.Name, Name: fmt.Sprintf("%s %s %s", f.InjectTime, f.Pod, f.Type), Group: f.Type,
				Input: in, RootCause: podService(f.Pod),
			})
		}
	}
	if len(ds.Cases) == 0 {
		return nil, fmt.Errorf("%w: no <day>/<day>-fault_list.json under %s", ErrLayout, dir)
	}
	return []Dataset{ds}, nil
}

// ParseNezhaFaults reads a fault list: {hour: [fault, ...]}, returned in
// injection order.
func ParseNezhaFaults(data []byte) ([]NezhaFault, error) {
	var byHour map[string][]NezhaFault
	if err := json.Unmarshal(data, &byHour); err != nil {
		return nil, fmt.Errorf("fault list: %w", err)
	}
	var out []NezhaFault
	for _, fs := range byHour {
		for _, f := range fs {
			if f.InjectTime == "" || f.Pod == "" {
				return nil, fmt.Errorf("fault list: %w: a fault lacks inject_time or inject_pod", ErrLayout)
			}
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InjectTime < out[j].InjectTime })
	return out, nil
}

// podService maps a pod name (cartservice-579f59597d-wc2lz) to its service.
func podService(pod string) string {
	parts := strings.Split(pod, "-")
	if len(parts) >= 3 {
		return strings.Join(parts[:len(parts)-2], "-")
	}
	return pod
}

func loadNezhaDay(dir string) ([]diagnose.Series, *diagnose.Graph, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_metric.csv"))
	if err != nil || len(files) == 0 {
		return nil, nil, fmt.Errorf("%w: no <pod>_metric.csv in %s", ErrLayout, dir)
	}
	sort.Strings(files)
	ss := newSeriesSet()
	for _, f := range files {
		data, err := readFile(f)
		if err != nil {
			return nil, nil, err
		}
		if err := parseNezhaPodMetrics(data, ss); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
	}
	if data, err := readFile(filepath.Join(dir, "front_service.csv")); err == nil {
		if err := parseNezhaFront(data, ss); err != nil {
			return nil, nil, fmt.Errorf("front_service.csv: %w", err)
		}
	}
	for _, side := range []string{"source", "destination"} {
		if data, err := readFile(filepath.Join(dir, side+"_50.csv")); err == nil {
			if err := parseNezhaEdges(data, side, ss); err != nil {
				return nil, nil, fmt.Errorf("%s_50.csv: %w", side, err)
			}
		}
	}
	var g *diagnose.Graph
	if data, err := readFile(filepath.Join(dir, "dependency.csv")); err == nil {
		edges, err := parseNezhaDependencies(data)
		if err != nil {
			return nil, nil, fmt.Errorf("dependency.csv: %w", err)
		}
		g = diagnose.NewGraph(diagnose.GraphSpec{Source: "dataset", Edges: edges})
	}
	return ss.out, g, nil
}

// nezhaKind maps a pod metric column to a kind; ok is false for node-level
// columns (they belong to the machine, shared by many pods) and columns
// that carry no information (PodSuccessRate is always 0 in this data, but
// that is for the ranker to find out, so it is kept).
func nezhaKind(col string) (diagnose.Kind, bool) {
	switch {
	case strings.HasPrefix(col, "Node"):
		return "", false
	case strings.HasPrefix(col, "Cpu"):
		return diagnose.KindCPU, true
	case strings.HasPrefix(col, "Memory"):
		return diagnose.KindMemory, true
	case strings.Contains(col, "Latency"):
		return diagnose.KindLatency, true
	case strings.Contains(col, "SuccessRate"):
		return diagnose.KindAvailability, true
	case strings.HasPrefix(col, "Syscall"), strings.HasPrefix(col, "Network"), strings.Contains(col, "Workload"):
		return diagnose.KindTraffic, true
	}
	return "", false
}

// parseNezhaPodMetrics reads one <pod>_metric.csv into ss.
func parseNezhaPodMetrics(data []byte, ss *seriesSet) error {
	t, err := readTable(data, "pod metrics")
	if err != nil {
		return err
	}
	tc, pc := t.col("TimeStamp"), t.col("PodName")
	if tc < 0 || pc < 0 {
		return fmt.Errorf("%w: want TimeStamp and PodName columns", ErrLayout)
	}
	for _, row := range t.rows {
		ms, ok := unixMilli(t.cell(row, tc))
		if !ok {
			continue
		}
		svc := podService(t.cell(row, pc))
		if svc == "" {
			continue
		}
		for c, h := range t.header {
			if k, ok := nezhaKind(h); ok && c < len(row) {
				ss.add(svc, h, k, ms, parseFloat(row[c]))
			}
		}
	}
	return nil
}

// parseNezhaFront reads front_service.csv: the frontend's own view.
func parseNezhaFront(data []byte, ss *seriesSet) error {
	t, err := readTable(data, "front_service.csv")
	if err != nil {
		return err
	}
	tc := t.col("TimeStamp")
	if tc < 0 {
		return fmt.Errorf("%w: want a TimeStamp column", ErrLayout)
	}
	for _, row := range t.rows {
		ms, ok := unixMilli(t.cell(row, tc))
		if !ok {
			continue
		}
		for c, h := range t.header {
			var k diagnose.Kind
			switch {
			case strings.HasPrefix(h, "SuccessRate"):
				k = diagnose.KindAvailability
			case strings.HasPrefix(h, "Latency"):
				k = diagnose.KindLatency
			default:
				continue
			}
			if c < len(row) {
				ss.add("frontend", "Service"+h, k, ms, parseFloat(row[c]))
			}
		}
	}
	return nil
}

// parseNezhaEdges reads source_50.csv or destination_50.csv: one latency
// column per call edge, named <caller>_<callee>. The latency of a call is
// the callee's answer time as the caller (source) or the callee
// (destination) measured it, so it is the callee's series.
func parseNezhaEdges(data []byte, side string, ss *seriesSet) error {
	t, err := readTable(data, side+"_50.csv")
	if err != nil {
		return err
	}
	tc := t.col("timestamp")
	if tc < 0 {
		return fmt.Errorf("%w: want a timestamp column", ErrLayout)
	}
	for _, row := range t.rows {
		ms, ok := unixMilli(t.cell(row, tc))
		if !ok {
			continue
		}
		for c, h := range t.header {
			from, to, ok := strings.Cut(h, "_")
			if !ok || from == "" || to == "" || c == tc || h == "time" || c >= len(row) {
				continue
			}
			ss.add(to, "call_latency_"+side+"{caller=\""+from+"\"}", diagnose.KindLatency, ms, parseFloat(row[c]))
		}
	}
	return nil
}

// parseNezhaDependencies reads dependency.csv (Source,Target,Weight),
// keeping service-to-service edges: targets that are IP addresses are the
// pods' hosts, and the load generator is not part of the system.
func parseNezhaDependencies(data []byte) ([]diagnose.Edge, error) {
	t, err := readTable(data, "dependency.csv")
	if err != nil {
		return nil, err
	}
	sc, tc := t.col("Source"), t.col("Target")
	if sc < 0 || tc < 0 {
		return nil, fmt.Errorf("%w: want Source and Target columns", ErrLayout)
	}
	var edges []diagnose.Edge
	for _, row := range t.rows {
		from, to := t.cell(row, sc), t.cell(row, tc)
		if from == "" || to == "" || isIP(to) || from == "loadgenerator" {
			continue
		}
		edges = append(edges, diagnose.Edge{From: from, To: to})
	}
	return edges, nil
}

func isIP(s string) bool {
	return strings.Trim(s, "0123456789.") == "" && strings.Count(s, ".") == 3
}

// addCallNetwork adds, for every call edge measured at both ends, the
// time its calls spend outside the callee (diagnose.CallNetwork): the
// caller-side latency (source_50.csv) less the callee-side latency
// (destination_50.csv) of the same minute, in typical calls of the case's
// normal period.
func addCallNetwork(ss []diagnose.Series, normal diagnose.Window) []diagnose.Series {
	const client, server = "call_latency_source", "call_latency_destination"
	calleeSide := map[[2]string][]telemetry.Point{}
	for _, s := range ss {
		if rest, ok := strings.CutPrefix(s.Name, server); ok {
			calleeSide[[2]string{s.Service, rest}] = s.Points
		}
	}
	n := len(ss)
	for i := 0; i < n; i++ {
		rest, ok := strings.CutPrefix(ss[i].Name, client)
		if !ok {
			continue
		}
		dst, ok := calleeSide[[2]string{ss[i].Service, rest}]
		if !ok {
			continue
		}
		if net, ok := diagnose.CallNetwork(ss[i].Service, "call_network"+rest, ss[i].Points, dst, normal); ok {
			ss = append(ss, net)
		}
	}
	return ss
}
