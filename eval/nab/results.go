package nab

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
)

// WriteResults writes one NAB-format result CSV per corpus file under
// out/<detector>/<category>/<detector>_<file>.csv, with the columns
// timestamp,value,anomaly_score,label and one S(t)_<profile> per profile,
// as NAB's own result files, so that NAB's scorer can re-score them.
func WriteResults(out, detector string, c *Corpus, scores Scores, profiles []Profile) error {
	sweeps := make([]*Sweep, len(profiles))
	for i, p := range profiles {
		sw, err := NewSweep(c, scores, p)
		if err != nil {
			return err
		}
		sweeps[i] = sw
	}
	for _, f := range c.Files {
		dir, base := path.Split(f.Name)
		target := filepath.Join(out, detector, filepath.FromSlash(dir), detector+"_"+base)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
		if err := writeResultFile(target, f, scores[f.Name], profiles, sweeps); err != nil {
			return fmt.Errorf("write results %s: %w", target, err)
		}
	}
	return nil
}

func writeResultFile(target string, f File, as []float64, profiles []Profile, sweeps []*Sweep) error {
	fh, err := os.Create(target)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(fh)
	w.WriteString("timestamp,value,anomaly_score,label")
	for _, p := range profiles {
		w.WriteString(",S(t)_" + p.Name)
	}
	w.WriteByte('\n')
	labels := f.Labels()
	rs := make([][]float64, len(sweeps))
	for i, s := range sweeps {
		rs[i] = s.RowSweep(f.Name)
	}
	var buf []byte
	for i, r := range f.Rows {
		buf = buf[:0]
		buf = r.Time.AppendFormat(buf, TimeLayout)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, r.Value, 'g', -1, 64)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, as[i], 'g', -1, 64)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(labels[i]), 10)
		for j := range rs {
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, rs[j][i], 'g', -1, 64)
		}
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
