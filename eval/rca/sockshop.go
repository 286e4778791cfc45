package rca

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilops/vigil/diagnose"
)

// LoadSockShop loads the RCD Sock Shop layout: <service>-<cpu|mem>/<n>/
// {normal,anomalous}.csv with columns time, <svc>_cpu, <svc>_mem, <svc>_lod
// and <svc>_lat_<q>. The fault starts with anomalous.csv. The data has no
// call graph, so cases carry none.
func LoadSockShop(dir string) ([]Dataset, error) {
	faults, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read sock shop folder: %w", err)
	}
	ds := Dataset{Name: "sockshop", Note: "no call graph in this dataset: ranked without one"}
	for _, f := range faults {
		if !f.IsDir() {
			continue
		}
		svc, fault, ok := cutLast(f.Name(), "-")
		if !ok {
			continue
		}
		runs, err := os.ReadDir(filepath.Join(dir, f.Name()))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Name(), err)
		}
		for _, r := range runs {
			if !r.IsDir() {
				continue
			}
			p := filepath.Join(dir, f.Name(), r.Name())
			normal, err := readFile(filepath.Join(p, "normal.csv"))
			if err != nil {
				return nil, fmt.Errorf("sock shop case %s/%s: %w", f.Name(), r.Name(), err)
			}
			anom, err := readFile(filepath.Join(p, "anomalous.csv"))
			if err != nil {
				return nil, fmt.Errorf("sock shop case %s/%s: %w", f.Name(), r.Name(), err)
			}
			in, err := ParseSockShop(normal, anom)
			if err != nil {
				return nil, fmt.Errorf("sock shop case %s/%s: %w", f.Name(), r.Name(), err)
			}
			ds.Cases = append(ds.Cases, Case{Dataset: ds.Name, Name: f.Name() + "/" + r.Name(), Group: fault, Input: in, RootCause: svc})
		}
	}
	if len(ds.Cases) == 0 {
		return nil, fmt.Errorf("%w: no <service>-<fault>/<n>/ cases under %s", ErrLayout, dir)
	}
	return []Dataset{ds}, nil
}

// ParseSockShop turns one case's normal and anomalous CSV files into a
// diagnose.Input.
func ParseSockShop(normal, anomalous []byte) (diagnose.Input, error) {
	ss := newSeriesSet()
	var in diagnose.Input
	for i, data := range [][]byte{normal, anomalous} {
		name := [2]string{"normal.csv", "anomalous.csv"}[i]
		t, err := readTable(data, name)
		if err != nil {
			return in, err
		}
		tc := t.col("time")
		if tc < 0 {
			return in, fmt.Errorf("%s: %w: no time column", name, ErrLayout)
		}
		type colDef struct {
			i         int
			svc, name string
			kind      diagnose.Kind
		}
		var cols []colDef
		for c, h := range t.header {
			if c == tc {
				continue
			}
			svc, metric, kind, ok := sockShopColumn(h)
			if ok {
				cols = append(cols, colDef{c, svc, metric, kind})
			}
		}
		if len(cols) == 0 {
			return in, fmt.Errorf("%s: %w: no <svc>_<cpu|mem|lod|lat_q> columns", name, ErrLayout)
		}
		var ts []int64
		for _, row := range t.rows {
			ms, ok := unixMilli(t.cell(row, tc))
			if !ok {
				continue
			}
			ts = append(ts, ms)
			for _, c := range cols {
				ss.add(c.svc, c.name, c.kind, ms, parseFloat(t.cell(row, c.i)))
			}
		}
		if len(ts) == 0 {
			return in, fmt.Errorf("%s: %w: no rows with a time", name, ErrLayout)
		}
		w := span(ts, time.Second)
		if i == 0 {
			in.Normal = w
		} else {
			in.Anomalous = w
		}
	}
	if in.Anomalous.Start.Before(in.Normal.End) && in.Anomalous.End.After(in.Normal.Start) {
		return in, fmt.Errorf("%w: normal and anomalous periods overlap", ErrLayout)
	}
	in.Series = ss.out
	return in, nil
}

// sockShopColumn maps a column header to (service, metric, kind).
func sockShopColumn(h string) (svc, metric string, kind diagnose.Kind, ok bool) {
	h = strings.TrimSpace(h)
	if i := strings.Index(h, "_lat_"); i > 0 {
		return h[:i], "latency_p" + h[i+5:], diagnose.KindLatency, true
	}
	s, m, found := cutLast(h, "_")
	if !found || s == "" {
		return "", "", "", false
	}
	switch m {
	case "cpu":
		return s, "cpu", diagnose.KindCPU, true
	case "mem":
		return s, "memory", diagnose.KindMemory, true
	case "lod":
		return s, "load", diagnose.KindTraffic, true
	}
	return "", "", "", false
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
