package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Summary counts what an export wrote.
type Summary struct {
	Seed  int64     `json:"seed"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Step is the metric resolution in seconds.
	Step          float64        `json:"step_seconds"`
	LogScale      float64        `json:"log_scale"`
	Logs          int            `json:"logs"`
	LogsByService map[string]int `json:"logs_by_service"`
	Samples       int            `json:"samples"`
	Series        int            `json:"series"`
	Alerts        int            `json:"alerts"`
	AlertSends    int            `json:"alert_sends"`
	Events        int            `json:"events"`
	LokiPushes    int            `json:"loki_pushes"`
}

// exportChunk bounds memory: the simulation is advanced and written an hour
// of simulated time at a time.
const exportChunk = time.Hour

// Export advances s to `to`, streaming everything it emits to files under
// dir, an hour of simulated time at a time so memory stays bounded:
//
//	truth.json, topology.json      ground truth of the faults, the system
//	manifest.json                  options, counts, faults, file list
//	logs/<service>.log             raw lines as a file tailer reads them
//	metrics/metrics.om             OpenMetrics text, one block per family,
//	                               timestamps in seconds, ending in # EOF
//	                               (promtool tsdb create-blocks-from openmetrics)
//	metrics/<service>/<metric>.csv gauges in NAB layout (timestamp,value);
//	                               node metrics under metrics/node/
//	wire/alertmanager.ndjson       {"at":…,"body":[Alertmanager API v2 alerts]} per send
//	wire/loki.ndjson               {"at":…,"body":<Loki push>} per minute and service
//	wire/events.ndjson             one event a line
//
// The output is byte-identical for identical options. progress, when not
// nil, is called after every chunk; a cancelled ctx stops the export
// between chunks.
func Export(ctx context.Context, s *Sim, to time.Time, dir string, progress func(done, total time.Duration)) (Summary, error) {
	start := s.Now()
	o := s.Options()
	sum := Summary{Seed: o.Seed, Start: start, End: to, Step: o.Step.Seconds(), LogScale: o.LogScale, LogsByService: map[string]int{}, Series: len(s.series)}
	if to.Before(start) {
		return sum, fmt.Errorf("%w: export end %s is before now %s", ErrInvalidOptions, to.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	for _, d := range []string{"logs", "metrics", "wire"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return sum, fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := writeJSON(filepath.Join(dir, "topology.json"), s.Topology()); err != nil {
		return sum, err
	}
	truth := s.Truth()
	if truth == nil {
		truth = []Truth{}
	}
	if err := writeJSON(filepath.Join(dir, "truth.json"), truth); err != nil {
		return sum, err
	}

	ex := &exporter{sum: &sum}
	err := ex.open(dir, s)
	for err == nil && s.Now().Before(to) {
		if err = ctx.Err(); err != nil {
			err = fmt.Errorf("export: %w", err)
			break
		}
		next := s.Now().Add(exportChunk)
		if next.After(to) {
			next = to
		}
		b := s.Advance(next)
		ex.batch(&b)
		err = ex.err
		if progress != nil {
			progress(next.Sub(start), to.Sub(start))
		}
	}
	if err == nil {
		ex.flushLoki(to)
	}
	if cerr := ex.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return sum, err
	}
	return sum, writeJSON(filepath.Join(dir, "manifest.json"), manifest{
		Summary: sum, Faults: s.resolvedFaults(), Scenarios: scenarioNames(), Files: []string{
			"truth.json", "topology.json", "manifest.json", "logs/<service>.log", "metrics/metrics.om",
			"metrics/<service>/<metric>.csv", "wire/alertmanager.ndjson", "wire/loki.ndjson", "wire/events.ndjson",
		},
	})
}

type manifest struct {
	Summary
	Faults []Fault `json:"faults"`
	// Scenarios is the fault library the simulator knows.
	Scenarios []string `json:"scenarios"`
	Files     []string `json:"files"`
}

func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// marshal encodes v as compact JSON without HTML escaping (URLs keep their
// '&'), without the trailing newline.
func marshal(buf *bytes.Buffer, v any) ([]byte, error) {
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// exporter holds the open files of one export.
type exporter struct {
	sum      *Summary
	files    []*os.File
	logs     [numOwn]*bufio.Writer
	am, loki *bufio.Writer
	events   *bufio.Writer
	metrics  *metricWriter
	b        []byte
	jbuf     bytes.Buffer
	err      error

	// Loki pushes are per simulated minute and service.
	minute  time.Time
	pending [numOwn][]*telemetry.LogRecord
}

func (ex *exporter) create(path string, size int) *bufio.Writer {
	if ex.err != nil {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		ex.err = fmt.Errorf("create %s: %w", filepath.Base(path), err)
		return nil
	}
	ex.files = append(ex.files, f)
	return bufio.NewWriterSize(f, size)
}

func (ex *exporter) open(dir string, s *Sim) error {
	for i := 0; i < numOwn; i++ {
		ex.logs[i] = ex.create(filepath.Join(dir, "logs", svcNames[i]+".log"), 64<<10)
	}
	ex.am = ex.create(filepath.Join(dir, "wire", "alertmanager.ndjson"), 32<<10)
	ex.loki = ex.create(filepath.Join(dir, "wire", "loki.ndjson"), 256<<10)
	ex.events = ex.create(filepath.Join(dir, "wire", "events.ndjson"), 16<<10)
	if ex.err != nil {
		return ex.err
	}
	mw, err := newMetricWriter(filepath.Join(dir, "metrics"), s.series)
	if err != nil {
		ex.err = err
		return err
	}
	ex.metrics = mw
	return nil
}

func (ex *exporter) close() error {
	err := ex.err
	keep := func(e error) {
		if err == nil && e != nil {
			err = e
		}
	}
	for _, w := range append(ex.logs[:], ex.am, ex.loki, ex.events) {
		if w != nil {
			keep(w.Flush())
		}
	}
	for _, f := range ex.files {
		keep(f.Close())
	}
	if ex.metrics != nil {
		keep(ex.metrics.finish())
	}
	return err
}

// postableAlert is an alert as Alertmanager's API v2 accepts it.
type postableAlert struct {
	Labels       telemetry.Labels `json:"labels"`
	Annotations  telemetry.Labels `json:"annotations,omitempty"`
	StartsAt     time.Time        `json:"startsAt"`
	EndsAt       time.Time        `json:"endsAt"`
	GeneratorURL string           `json:"generatorURL"`
}

func (ex *exporter) batch(b *Batch) {
	for i := range b.Logs {
		r := &b.Logs[i]
		svc := svcIndex(r.Service)
		if svc < 0 || svc >= numOwn {
			continue
		}
		if m := r.Time.Truncate(time.Minute); !m.Equal(ex.minute) {
			ex.flushLoki(ex.minute.Add(time.Minute))
			ex.minute = m
		}
		ex.pending[svc] = append(ex.pending[svc], r)
		w := ex.logs[svc]
		w.WriteString(r.Raw)
		w.WriteByte('\n')
		ex.sum.Logs++
		ex.sum.LogsByService[r.Service]++
	}
	for i := range b.Samples {
		ex.metrics.write(&b.Samples[i])
	}
	ex.sum.Samples += len(b.Samples)
	if ex.metrics.err != nil && ex.err == nil {
		ex.err = ex.metrics.err
	}
	for i := 0; i < len(b.Alerts); {
		j := i
		var body []postableAlert
		for ; j < len(b.Alerts) && b.Alerts[j].UpdatedAt.Equal(b.Alerts[i].UpdatedAt); j++ {
			a := &b.Alerts[j]
			body = append(body, postableAlert{a.Labels, a.Annotations, a.StartsAt, a.EndsAt, a.GeneratorURL})
		}
		ex.wireLine(ex.am, b.Alerts[i].UpdatedAt, body)
		ex.sum.AlertSends++
		ex.sum.Alerts += j - i
		i = j
	}
	for i := range b.Events {
		enc, err := marshal(&ex.jbuf, &b.Events[i])
		if err != nil {
			ex.err = fmt.Errorf("encode event: %w", err)
			return
		}
		ex.events.Write(enc)
		ex.events.WriteByte('\n')
		ex.sum.Events++
	}
}

func (ex *exporter) wireLine(w *bufio.Writer, at time.Time, body any) {
	enc, err := marshal(&ex.jbuf, body)
	if err != nil {
		ex.err = fmt.Errorf("encode wire body: %w", err)
		return
	}
	b := append(ex.b[:0], `{"at":"`...)
	b = appendRFC3339(b, at, 0)
	b = append(b, `","body":`...)
	b = append(b, enc...)
	b = append(b, "}\n"...)
	w.Write(b)
	ex.b = b
}

// flushLoki writes the pending minute as one push per service, sent at the
// end of the minute (or at the export's end for a partial last minute).
func (ex *exporter) flushLoki(at time.Time) {
	if ex.minute.IsZero() {
		return
	}
	for svc := 0; svc < numOwn; svc++ {
		recs := ex.pending[svc]
		if len(recs) == 0 {
			continue
		}
		b := append(ex.b[:0], `{"at":"`...)
		b = appendRFC3339(b, minTime(at, ex.minute.Add(time.Minute)), 0)
		b = append(b, `","body":{"streams":[`...)
		// One stream per distinct label set, in order of first appearance.
		var sets []telemetry.Labels
		for _, r := range recs {
			found := false
			for _, ls := range sets {
				if ls.Equal(r.Labels) {
					found = true
					break
				}
			}
			if !found {
				sets = append(sets, r.Labels)
			}
		}
		for si, ls := range sets {
			if si > 0 {
				b = append(b, ',')
			}
			lj, _ := ls.MarshalJSON()
			b = append(b, `{"stream":`...)
			b = append(b, lj...)
			b = append(b, `,"values":[`...)
			first := true
			for _, r := range recs {
				if !r.Labels.Equal(ls) {
					continue
				}
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(b, `["`...)
				b = appendInt(b, int(r.Time.UnixNano()))
				b = append(b, `",`...)
				b = appendJSONString(b, r.Raw)
				b = append(b, ']')
			}
			b = append(b, "]}"...)
		}
		b = append(b, "]}}\n"...)
		ex.loki.Write(b)
		ex.b = b
		ex.sum.LokiPushes++
		ex.pending[svc] = recs[:0]
	}
}
