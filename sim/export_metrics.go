package sim

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// metricWriter streams samples into OpenMetrics text (metrics/metrics.om)
// and one NAB-style CSV per gauge. OpenMetrics wants each family's samples
// contiguous, so samples go to one temporary file per family, concatenated
// behind their # TYPE lines when the export finishes.
type metricWriter struct {
	dir    string
	series []seriesDef
	byPtr  map[*telemetry.Label]int
	fam    [numMetrics]*spool
	csv    []*bufio.Writer
	csvF   []*os.File
	b      []byte
	err    error
}

type spool struct {
	f *os.File
	w *bufio.Writer
	n int
}

func newMetricWriter(dir string, series []seriesDef) (*metricWriter, error) {
	mw := &metricWriter{dir: dir, series: series, byPtr: make(map[*telemetry.Label]int, len(series))}
	for i := range series {
		mw.byPtr[&series[i].labels[0]] = i
	}
	mw.csv = make([]*bufio.Writer, len(series))
	mw.csvF = make([]*os.File, len(series))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create metrics dir: %w", err)
	}
	return mw, nil
}

func (mw *metricWriter) spoolFor(fam int) *spool {
	if sp := mw.fam[fam]; sp != nil {
		return sp
	}
	f, err := os.Create(filepath.Join(mw.dir, ".family-"+families[fam].name+".tmp"))
	if err != nil {
		mw.err = fmt.Errorf("create family spool: %w", err)
		return nil
	}
	sp := &spool{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	mw.fam[fam] = sp
	return sp
}

func (mw *metricWriter) csvFor(i int) *bufio.Writer {
	if w := mw.csv[i]; w != nil {
		return w
	}
	sd := &mw.series[i]
	d := filepath.Join(mw.dir, sd.csvDir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		mw.err = fmt.Errorf("create csv dir: %w", err)
		return nil
	}
	f, err := os.Create(filepath.Join(d, sd.csvName))
	if err != nil {
		mw.err = fmt.Errorf("create csv: %w", err)
		return nil
	}
	w := bufio.NewWriterSize(f, 16<<10)
	w.WriteString("timestamp,value\n")
	mw.csv[i], mw.csvF[i] = w, f
	return w
}

// write appends one sample. Samples must come from the simulation whose
// series the writer was built with.
func (mw *metricWriter) write(smp *telemetry.Sample) {
	if mw.err != nil || len(smp.Labels) == 0 {
		return
	}
	i, ok := mw.byPtr[&smp.Labels[0]]
	if !ok {
		mw.err = fmt.Errorf("sample %s: not a series of this simulation", smp.Labels)
		return
	}
	sd := &mw.series[i]
	sp := mw.spoolFor(sd.family)
	if sp == nil {
		return
	}
	b := append(mw.b[:0], sd.omPrefix...)
	b = appendValue(b, smp.V)
	b = append(b, ' ')
	b = appendOMTime(b, smp.T)
	b = append(b, '\n')
	sp.w.Write(b)
	sp.n++
	if !sd.counter {
		w := mw.csvFor(i)
		if w == nil {
			return
		}
		b = appendSpaced(b[:0], time.UnixMilli(smp.T), 0)
		b = append(b, ',')
		b = appendValue(b, smp.V)
		b = append(b, '\n')
		w.Write(b)
	}
	mw.b = b
}

// appendOMTime writes a millisecond timestamp as seconds.
func appendOMTime(b []byte, ms int64) []byte {
	b = appendInt(b, int(ms/1000))
	if r := ms % 1000; r != 0 {
		b = append(b, '.')
		b = appendPad(b, int(r), 3)
	}
	return b
}

// finish writes metrics.om from the spools and closes every file.
func (mw *metricWriter) finish() error {
	err := mw.err
	keep := func(e error) {
		if err == nil && e != nil {
			err = e
		}
	}
	for i, w := range mw.csv {
		if w != nil {
			keep(w.Flush())
			keep(mw.csvF[i].Close())
		}
	}
	out, e := os.Create(filepath.Join(mw.dir, "metrics.om"))
	if e != nil {
		keep(fmt.Errorf("create metrics.om: %w", e))
	}
	var ow *bufio.Writer
	if out != nil {
		ow = bufio.NewWriterSize(out, 256<<10)
	}
	for fi, sp := range mw.fam {
		if sp == nil {
			continue
		}
		keep(sp.w.Flush())
		if ow != nil && err == nil {
			f := families[fi]
			fmt.Fprintf(ow, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
			if _, e := sp.f.Seek(0, io.SeekStart); e != nil {
				keep(e)
			} else if _, e := io.Copy(ow, sp.f); e != nil {
				keep(fmt.Errorf("copy family %s: %w", f.name, e))
			}
		}
		keep(sp.f.Close())
		keep(os.Remove(sp.f.Name()))
	}
	if ow != nil {
		ow.WriteString("# EOF\n")
		keep(ow.Flush())
		keep(out.Close())
	}
	return err
}
