// Package logreplay feeds log records through the stages vigil serve puts
// before detection — multi-line joining and template mining, each per
// service — for tests and evaluations that replay simulated or recorded
// logs into the detectors.
package logreplay

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vigilops/vigil/logparse"
	"github.com/vigilops/vigil/logtemplate"
	"github.com/vigilops/vigil/telemetry"
)

// Observer receives each joined record with its TemplateID set and the
// miner's match.
type Observer func(rec *telemetry.LogRecord, m logtemplate.Match)

// Pipeline holds one joiner and one miner per service. Not safe for
// concurrent use.
type Pipeline struct {
	parser  *logparse.Parser
	observe Observer
	joiners map[string]*logparse.Joiner
	miners  map[string]*logtemplate.Miner
}

// New returns a pipeline that parses with p (nil: logparse defaults) and
// hands every finished record to observe.
func New(p *logparse.Parser, observe Observer) (*Pipeline, error) {
	if p == nil {
		var err error
		if p, err = logparse.New(logparse.DefaultOptions()); err != nil {
			return nil, fmt.Errorf("logreplay: parser: %w", err)
		}
	}
	return &Pipeline{parser: p, observe: observe,
		joiners: map[string]*logparse.Joiner{}, miners: map[string]*logtemplate.Miner{}}, nil
}

// Push joins rec with its service's pending lines; the records it
// completes are mined and observed.
func (pl *Pipeline) Push(rec telemetry.LogRecord) error {
	j := pl.joiners[rec.Service]
	if j == nil {
		var err error
		if j, err = logparse.NewJoiner(logparse.JoinOptions{Parser: pl.parser}); err != nil {
			return fmt.Errorf("logreplay: joiner: %w", err)
		}
		pl.joiners[rec.Service] = j
	}
	return pl.mine(j.Push(rec, rec.Time))
}

// Flush completes what every service's joiner holds as of now, services
// in name order so that replays are repeatable.
func (pl *Pipeline) Flush(now time.Time) error {
	for _, svc := range slices.Sorted(maps.Keys(pl.joiners)) {
		if err := pl.mine(pl.joiners[svc].Flush(now)); err != nil {
			return err
		}
	}
	return nil
}

// Services is how many services have had a record mined.
func (pl *Pipeline) Services() int { return len(pl.miners) }

func (pl *Pipeline) mine(recs []telemetry.LogRecord) error {
	for i := range recs {
		rec := &recs[i]
		m := pl.miners[rec.Service]
		if m == nil {
			var err error
			if m, err = logtemplate.New(logtemplate.DefaultOptions()); err != nil {
				return fmt.Errorf("logreplay: miner: %w", err)
			}
			pl.miners[rec.Service] = m
		}
		match := m.Add(rec.Message)
		rec.TemplateID = match.TemplateID
		pl.observe(rec, match)
	}
	return nil
}
