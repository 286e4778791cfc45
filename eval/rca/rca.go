// Package rca scores root-cause ranking against public labelled microservice
// datasets: PetShop (AWS PetAdoptions), the RCD Sock Shop data and Nezha's
// OnlineBoutique faults. The loaders know each layout (which column is which
// service and metric kind, where the fault time is) and turn every case into
// the same generic diagnose.Input; the ranker never sees the label, the
// dataset's name or a parameter of its own per dataset.
//
// Metrics follow the published definitions: AC@k is the fraction of cases
// whose true root cause is among the top k; Avg@5 the mean of AC@1..AC@5.
// NOTES.md beside this file logs the changes made to the ranking against
// these datasets, each with its measured effect on all of them.
package rca

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigilops/vigil/diagnose"
)

// ErrLayout is returned when a folder is none of the known layouts or a file
// in it does not have the expected shape.
var ErrLayout = errors.New("unknown dataset layout")

// Limits that keep a malformed or hostile file from exhausting memory.
const (
	maxFileBytes = 256 << 20
	maxRows      = 2_000_000
	maxColumns   = 10_000
)

// Case is one labelled incident.
type Case struct {
	Dataset string
	Name    string
	// Group is the case's kind within its dataset (the fault type, the
	// traffic scenario), for reporting where the ranker wins and loses.
	Group string
	Input diagnose.Input
	// RootCause is the label; Input never carries it.
	RootCause string
}

// Dataset is the cases of one dataset and a note on what it lacks.
type Dataset struct {
	Name  string
	Cases []Case
	// Note says what the dataset lacks (no call graph, no normal data).
	Note string
}

// Ranker ranks services for one case; best first.
type Ranker interface {
	Rank(ctx context.Context, in diagnose.Input) ([]string, error)
}

// RankFunc adapts a function to Ranker.
type RankFunc func(ctx context.Context, in diagnose.Input) ([]string, error)

// Rank calls f.
func (f RankFunc) Rank(ctx context.Context, in diagnose.Input) ([]string, error) { return f(ctx, in) }

// DiagnoserRanker ranks with a diagnose.Diagnoser.
func DiagnoserRanker(d *diagnose.Diagnoser) Ranker {
	return RankFunc(func(ctx context.Context, in diagnose.Input) ([]string, error) {
		diag, err := d.Diagnose(ctx, in)
		if err != nil {
			if errors.Is(err, diagnose.ErrNoData) {
				return nil, nil
			}
			return nil, err
		}
		out := make([]string, len(diag.Candidates))
		for i, c := range diag.Candidates {
			out[i] = c.Service
		}
		return out, nil
	})
}

// Score is AC@1..AC@5 and Avg@5 over a set of cases.
type Score struct {
	Cases int        `json:"cases"`
	AC    [5]float64 `json:"ac"` // AC[k-1] = AC@k
	Avg5  float64    `json:"avg5"`
	// Misses lists the cases whose root cause was not first, with the top
	// three given.
	Misses []Miss `json:"misses,omitempty"`
	// Groups scores the cases of each Case.Group apart (without their
	// misses, which are listed above); nil when no case has a group.
	Groups map[string]Score `json:"groups,omitempty"`
}

// Miss is one case ranked wrongly at 1.
type Miss struct {
	Case  string   `json:"case"`
	Group string   `json:"group,omitempty"`
	Truth string   `json:"truth"`
	Top   []string `json:"top"`
	// Rank is the truth's 1-based place in the ranking, 0 when absent.
	Rank int `json:"rank"`
}

// Evaluate ranks every case and scores the rankings.
func Evaluate(ctx context.Context, r Ranker, cases []Case) (Score, error) {
	var s Score
	hits := [5]int{}
	type tally struct {
		n    int
		hits [5]int
	}
	groups := map[string]*tally{}
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return s, err
		}
		ranked, err := r.Rank(ctx, c.Input)
		if err != nil {
			return s, fmt.Errorf("rank %s/%s: %w", c.Dataset, c.Name, err)
		}
		pos := -1
		for i, svc := range ranked {
			if svc == c.RootCause {
				pos = i
				break
			}
		}
		g := groups[c.Group]
		if g == nil && c.Group != "" {
			g = &tally{}
			groups[c.Group] = g
		}
		if g != nil {
			g.n++
		}
		for k := range hits {
			if pos >= 0 && pos <= k {
				hits[k]++
				if g != nil {
					g.hits[k]++
				}
			}
		}
		if pos != 0 {
			top := ranked[:min(3, len(ranked))]
			s.Misses = append(s.Misses, Miss{Case: c.Name, Group: c.Group, Truth: c.RootCause, Top: top, Rank: pos + 1})
		}
	}
	s.Cases = len(cases)
	s.AC, s.Avg5 = accuracy(hits, s.Cases)
	for name, g := range groups {
		if s.Groups == nil {
			s.Groups = map[string]Score{}
		}
		gs := Score{Cases: g.n}
		gs.AC, gs.Avg5 = accuracy(g.hits, g.n)
		s.Groups[name] = gs
	}
	return s, nil
}

// accuracy turns hit counts at 1..5 into AC@1..AC@5 and Avg@5.
func accuracy(hits [5]int, n int) (ac [5]float64, avg5 float64) {
	if n == 0 {
		return ac, 0
	}
	for k := range hits {
		ac[k] = float64(hits[k]) / float64(n)
		avg5 += ac[k] / 5
	}
	return ac, avg5
}

// Load finds the known layouts under dir (the rca folder itself, or one of
// petshop/, rcd-sockshop/, nezha/ or their data folders) and loads them.
// PetShop's temporal scenarios come as a separate dataset: their normal
// period is missing in the shared copy, so they are judged against the
// low-traffic normal period and reported apart.
func Load(dir string) ([]Dataset, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open dataset folder: %w", err)
	}
	var out []Dataset
	tried := 0
	try := func(sub string, load func(string) ([]Dataset, error)) error {
		p := filepath.Join(dir, sub)
		if _, err := os.Stat(p); err != nil {
			return nil
		}
		tried++
		ds, err := load(p)
		if err != nil {
			return err
		}
		out = append(out, ds...)
		return nil
	}
	for _, l := range []struct {
		sub  string
		load func(string) ([]Dataset, error)
	}{
		{"petshop/dataset", LoadPetShop}, {"dataset/low_traffic", func(string) ([]Dataset, error) { return LoadPetShop(filepath.Join(dir, "dataset")) }},
		{"rcd-sockshop/sock-shop-data", LoadSockShop}, {"sock-shop-data", LoadSockShop},
		{"nezha/rca_data", LoadNezha}, {"rca_data", LoadNezha},
	} {
		if err := try(l.sub, l.load); err != nil {
			return nil, err
		}
	}
	if tried == 0 {
		return nil, fmt.Errorf("%w: %s holds none of petshop/dataset, rcd-sockshop/sock-shop-data, nezha/rca_data", ErrLayout, dir)
	}
	return out, nil
}

func readFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("%s: %w: %d bytes is over the %d limit", path, ErrLayout, st.Size(), maxFileBytes)
	}
	return os.ReadFile(path)
}

// DatasetReport is the score of the diagnoser and the baselines on one
// dataset.
type DatasetReport struct {
	Name  string
	Note  string
	Vigil Score
	// Baselines maps "nsigma" and "baro" to their scores.
	Baselines map[string]Score
}

// Run loads every dataset under dir and scores d (the diagnoser under
// test) and the n-sigma and BARO baselines on each.
func Run(ctx context.Context, dir string, d *diagnose.Diagnoser) ([]DatasetReport, error) {
	ds, err := Load(dir)
	if err != nil {
		return nil, err
	}
	out := make([]DatasetReport, 0, len(ds))
	for _, set := range ds {
		rep := DatasetReport{Name: set.Name, Note: set.Note, Baselines: map[string]Score{}}
		if rep.Vigil, err = Evaluate(ctx, DiagnoserRanker(d), set.Cases); err != nil {
			return nil, err
		}
		for name, r := range map[string]Ranker{"nsigma": NSigma(), "baro": BARO()} {
			s, err := Evaluate(ctx, r, set.Cases)
			if err != nil {
				return nil, err
			}
			rep.Baselines[name] = s
		}
		out = append(out, rep)
	}
	return out, nil
}
