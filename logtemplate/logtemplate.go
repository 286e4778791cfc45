// Package logtemplate mines log templates online, in the Drain family: each
// message body is split into tokens, variable-looking parts are masked by
// hand-written scanners (numbers, hex, IPs and ports, UUIDs, paths, URLs,
// timestamps, e-mails, sizes, durations, key=value values, ...), and the
// line joins the most similar template of its length or starts a new one.
//
// Templates refine as lines disagree with them. Where two parameters of
// different shapes meet ("<*>" and "<*>:<*>") the position generalises at
// once; where constant words differ ("VM Paused", "VM Resumed") the lines
// stay apart, because in logs different words usually mean different
// events, until the position has shown Options.Variants distinct values
// (user names, host names): then the templates merge. A position keeps the
// constant text its values share ("user=<*>", "(<*>)"); a number with a
// varying unit, the tail of a quoted string, and a trailing list of
// parameters of varying length are each one parameter. Template text
// follows the conventions of the Loghub-2.0 annotations, so that it can be
// scored against them (see package eval).
//
// Key invariant: a template ID, once returned, keeps naming the same cluster
// of lines for the life of the Miner and across MarshalBinary and
// UnmarshalBinary: refinement keeps the ID, a merge keeps the older ID and
// records the younger one as an alias (see Miner.Lookup). Only eviction of a
// least recently used template, when MaxClusters is reached, retires an ID.
// And every Match carries exactly one parameter per "<*>" of its template.
//
// Unlike Drain there is no prefix tree (hence no depth or children
// options): a line is compared with every template of its length, and a
// cache from masked line shape to template makes this rare, so a variable
// among the first tokens cannot split a template. Positions where both the
// line and the template hold parameters never count against a match, so
// mostly-parameter lines do not keep opening new templates.
package logtemplate

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// Errors callers branch on.
var (
	// ErrInvalidOptions wraps every Options validation failure.
	ErrInvalidOptions = errors.New("logtemplate: invalid options")
	// ErrBadState means UnmarshalBinary was given data it cannot restore.
	ErrBadState = errors.New("logtemplate: bad saved state")
)

// Options configures a Miner. Start from DefaultOptions.
type Options struct {
	// Similarity is the least fraction of informative positions (those
	// with constant text on either side, ignoring positions that are
	// parameters on both) where a line must fit a template to join it,
	// in (0, 1].
	Similarity float64
	// Variants is how many distinct constants a position must show, across
	// templates otherwise alike, before it becomes a parameter. Positions
	// where lines disagree on parameters (numbers, addresses, ...) need no
	// such evidence.
	Variants int
	// MaxClusters bounds the number of templates; beyond it the least
	// recently used one is evicted.
	MaxClusters int
	// MaxTokens bounds the tokens of a line: the rest of a longer line is
	// one trailing parameter.
	MaxTokens int
	// MaxExamples is how many example lines each template keeps.
	MaxExamples int
	// MaxSamples is how many distinct values each parameter keeps.
	MaxSamples int
	// CacheSize bounds the cache from masked line shape to template.
	CacheSize int
	// Logger receives evictions and merges at debug level.
	Logger *slog.Logger
}

// DefaultOptions returns the one configuration used for every source.
func DefaultOptions() Options {
	return Options{
		Similarity:  0.7,
		Variants:    4,
		MaxClusters: 10000,
		MaxTokens:   128,
		MaxExamples: 3,
		MaxSamples:  5,
		CacheSize:   1 << 16,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func (o *Options) validate() error {
	switch {
	case !(o.Similarity > 0 && o.Similarity <= 1):
		return fmt.Errorf("%w: Similarity %v not in (0, 1]", ErrInvalidOptions, o.Similarity)
	case o.Variants < 2:
		return fmt.Errorf("%w: Variants %d < 2", ErrInvalidOptions, o.Variants)
	case o.MaxClusters < 1:
		return fmt.Errorf("%w: MaxClusters %d < 1", ErrInvalidOptions, o.MaxClusters)
	case o.MaxTokens < 1:
		return fmt.Errorf("%w: MaxTokens %d < 1", ErrInvalidOptions, o.MaxTokens)
	case o.MaxExamples < 0:
		return fmt.Errorf("%w: MaxExamples %d < 0", ErrInvalidOptions, o.MaxExamples)
	case o.MaxSamples < 0:
		return fmt.Errorf("%w: MaxSamples %d < 0", ErrInvalidOptions, o.MaxSamples)
	case o.CacheSize < 0:
		return fmt.Errorf("%w: CacheSize %d < 0", ErrInvalidOptions, o.CacheSize)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}
