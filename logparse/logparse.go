// Package logparse turns one raw log line into the structured parts of a
// telemetry.LogRecord: the detected Format, the Time written in the line, the
// normalised Level, the Message (the body that logtemplate mines) and the
// Fields (structured key/values).
//
// It knows JSON (slog, zap, logrus, bunyan, ECS, OpenTelemetry, GELF, CLEF
// key names; nested objects flattened with dotted keys), logfmt, Apache/Nginx
// access logs, syslog (RFC 3164 with year inference, RFC 5424 with structured
// data), timestamp-led headers (bracketed, logback/log4j/Spring, Python,
// Go log, nginx error, klog, Redis) and the Docker json-file and CRI container
// wrappers, whose inner line is parsed again. Headers it does not know are
// learned per source from a sample of lines, by a token-shape heuristic or,
// failing that, by asking a PatternProposer (an LLM) once per source.
//
// A Joiner, stateful per stream, glues Java, Python and Go stack traces and
// container partial lines back onto the line that started them.
//
// Invariant: Parse never fails and never panics. A line it cannot read keeps
// Raw untouched and gets Format "plain" with Message = Raw trimmed, so no
// input is ever lost on the way to templating.
package logparse

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Format names a detected log format. Parse stores it, as a string, in
// telemetry.LogRecord.Format.
type Format string

// Formats Parse and Detect report. For container-wrapped lines Parse reports
// the format of the inner line (the wrapper is recorded in Fields under
// FieldContainerRuntime); Detect reports the wrapper.
const (
	FormatPlain          Format = "plain"
	FormatJSON           Format = "json"
	FormatLogfmt         Format = "logfmt"
	FormatAccessCommon   Format = "access_common"
	FormatAccessCombined Format = "access_combined"
	FormatSyslog3164     Format = "syslog3164"
	FormatSyslog5424     Format = "syslog5424"
	// FormatBracketed is "[ts] [LEVEL] [component] msg" and the variants
	// with some of those parts bracketed ("ts [LEVEL] msg", "[LEVEL] msg").
	FormatBracketed Format = "bracketed"
	// FormatLogback is a Java-style header with a logger name before a
	// " - " or " : " separator (logback, log4j, Spring Boot, Tomcat).
	FormatLogback Format = "logback"
	// FormatPython is Python logging's "ts - name - LEVEL - msg" and its
	// basicConfig default "LEVEL:name:msg".
	FormatPython Format = "python"
	// FormatGoLog is the Go standard library log package: "2006/01/02 15:04:05 msg".
	FormatGoLog      Format = "golog"
	FormatNginxError Format = "nginx_error"
	FormatKlog       Format = "klog"
	FormatRedis      Format = "redis"
	// FormatHeader is any other line that starts with a timestamp (or a bare
	// level word) this package could read.
	FormatHeader Format = "header"
	// FormatLearned marks lines read by a layout learned for their source.
	FormatLearned Format = "learned"
	// FormatDocker and FormatCRI are returned by Detect only.
	FormatDocker Format = "docker"
	FormatCRI    Format = "cri"
)

// Field names this package sets itself (besides the keys found in the line).
const (
	FieldContainerRuntime = "container.runtime" // "docker" or "cri"
	FieldContainerStream  = "container.stream"  // "stdout" or "stderr"
	// FieldContainerPartial is "true" on a container line that the runtime
	// split (CRI tag P, Docker log without trailing newline); a Joiner
	// glues such lines to the line that completes them.
	FieldContainerPartial = "container.partial"
	FieldStack            = "stack"
	FieldExceptionType    = "exception.type"
	FieldExceptionMessage = "exception.message"
	FieldTruncated        = "truncated"
	FieldDroppedLines     = "dropped_lines"
)

// Defaults, exported so configuration docs can name them.
const (
	DefaultMaxLineBytes   = 64 << 10
	DefaultMaxFields      = 128
	DefaultLearnSamples   = 50
	DefaultLearnThreshold = 0.9
	DefaultMaxSources     = 10000
)

// Errors callers branch on.
var (
	// ErrInvalidOptions is returned by New and NewJoiner when Options cannot work.
	ErrInvalidOptions = errors.New("invalid logparse options")
	// ErrNoLayout means neither the heuristic nor the proposer found a header
	// layout that reads enough of the samples.
	ErrNoLayout = errors.New("no header layout fits the samples")
	// ErrTooFewSamples means Learn was given too few lines to generalise from.
	ErrTooFewSamples = errors.New("too few sample lines")
	// ErrBadPattern means a layout pattern does not compile.
	ErrBadPattern = errors.New("bad layout pattern")
)

// minLearnSamples is the fewest lines Learn accepts: below it a 90% quorum
// means "every line", and a handful of lines rarely shows which header parts
// vary.
const minLearnSamples = 5

// Options configure a Parser.
type Options struct {
	// MaxLineBytes bounds the lines that are parsed. Longer lines keep Raw
	// but get Format plain and a Message cut to this many bytes, so one
	// runaway line cannot cost more than a bounded amount of work.
	MaxLineBytes int
	// MaxFields bounds the fields kept per line; the rest are dropped.
	MaxFields int
	// Location is assumed for timestamps that carry no zone. UTC when nil:
	// servers and containers mostly log in UTC, and a guess that is the
	// same everywhere beats the zone of whichever host runs Vigil.
	Location *time.Location
	// SourceKey names the source a record belongs to, for learned layouts.
	// The default is the record's Service.
	SourceKey func(rec *telemetry.LogRecord) string
	// Proposer, when set, is asked for a header pattern when the heuristic
	// learner fails on a source. It is called from Learn and LearnPending,
	// never from Parse.
	Proposer PatternProposer
	// AutoLearn makes Parse collect unreadable lines per source and learn a
	// layout once LearnSamples of them have been seen.
	AutoLearn bool
	// LearnSamples is how many lines AutoLearn collects before learning.
	LearnSamples int
	// LearnThreshold is the fraction of samples a layout must read (with a
	// parseable time) to be accepted.
	LearnThreshold float64
	// MaxSources bounds the per-source state (samples and layouts).
	MaxSources int
	Logger     *slog.Logger
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		MaxLineBytes:   DefaultMaxLineBytes,
		MaxFields:      DefaultMaxFields,
		Location:       time.UTC,
		SourceKey:      serviceKey,
		AutoLearn:      true,
		LearnSamples:   DefaultLearnSamples,
		LearnThreshold: DefaultLearnThreshold,
		MaxSources:     DefaultMaxSources,
		Logger:         slog.Default(),
	}
}

func serviceKey(rec *telemetry.LogRecord) string { return rec.Service }

// fillDefaults sets zero fields to their defaults, so that a literal
// Options{Proposer: p} works as well as DefaultOptions with Proposer set.
// AutoLearn is a bool and cannot be told apart from "unset"; it stays as given.
func (o *Options) fillDefaults() {
	d := DefaultOptions()
	if o.MaxLineBytes == 0 {
		o.MaxLineBytes = d.MaxLineBytes
	}
	if o.MaxFields == 0 {
		o.MaxFields = d.MaxFields
	}
	if o.Location == nil {
		o.Location = d.Location
	}
	if o.SourceKey == nil {
		o.SourceKey = d.SourceKey
	}
	if o.LearnSamples == 0 {
		o.LearnSamples = d.LearnSamples
	}
	if o.LearnThreshold == 0 {
		o.LearnThreshold = d.LearnThreshold
	}
	if o.MaxSources == 0 {
		o.MaxSources = d.MaxSources
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	switch {
	case o.MaxLineBytes < 64:
		return fmt.Errorf("%w: max line bytes %d is below 64", ErrInvalidOptions, o.MaxLineBytes)
	case o.MaxFields < 1:
		return fmt.Errorf("%w: max fields %d is below 1", ErrInvalidOptions, o.MaxFields)
	case o.LearnSamples < minLearnSamples:
		return fmt.Errorf("%w: learn samples %d is below %d", ErrInvalidOptions, o.LearnSamples, minLearnSamples)
	case o.LearnThreshold <= 0.5 || o.LearnThreshold > 1:
		return fmt.Errorf("%w: learn threshold %v is not in (0.5, 1]", ErrInvalidOptions, o.LearnThreshold)
	case o.MaxSources < 1:
		return fmt.Errorf("%w: max sources %d is below 1", ErrInvalidOptions, o.MaxSources)
	}
	return nil
}
