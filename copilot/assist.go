package copilot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/copilot/analyst"
	"github.com/vigilops/vigil/internal/promreg"
)

// ErrOffline is returned by the uses that need a model when none is
// configured (the parser-learning proposer).
var ErrOffline = errors.New("copilot: no model configured")

// Sources of an answer.
const (
	SourceAnalyst = "analyst" // the offline knowledge base
	SourceModel   = "model"   // the configured LLM
)

// Outcomes of a use, for the metrics and for Answer.Note.
const (
	outcomeOffline   = "offline"   // no model configured
	outcomeModel     = "model"     // the model's answer was used
	outcomeError     = "error"     // the model failed; the analyst answered
	outcomeInvalid   = "invalid"   // the answer broke its schema; the analyst answered
	outcomeInjection = "injection" // the input spoke to the model; the analyst answered
)

// Options configure a Copilot.
type Options struct {
	// Provider is the model; nil means offline: the analyst answers.
	Provider Provider
	// Model names the model in answers ("model gpt-4o-mini"); the provider
	// chooses it when a request names none.
	Model string
	// Analyst is the offline fallback; nil builds one with its defaults.
	Analyst *analyst.Analyst
	// MaxTokens bounds each completion.
	MaxTokens int
	// Logger and Registerer as everywhere.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns an offline copilot's options.
func DefaultOptions() Options {
	return Options{MaxTokens: 800}
}

func (o *Options) validate() error {
	if o.MaxTokens < 0 {
		return fmt.Errorf("copilot: MaxTokens %d < 0", o.MaxTokens)
	}
	return nil
}

// Copilot answers the questions the rest of Vigil asks in plain words: what
// these lines mean, whether a borderline anomaly is real, what the root-cause
// story of an incident is, and what header layout a log source uses. It asks
// the configured model and falls back to the offline analyst whenever there
// is no model, the model fails, its answer breaks the expected schema, or the
// input holds text addressed to a model (a prompt injection). It advises
// only: nothing it returns is ever executed, and it offers the model no
// tools. Safe for concurrent use.
type Copilot struct {
	o       Options
	an      *analyst.Analyst
	log     *slog.Logger
	answers *prometheus.CounterVec // {use, outcome}
}

// New returns a Copilot.
func New(o Options) (*Copilot, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := &Copilot{o: o, an: o.Analyst, log: o.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.an == nil {
		an, err := analyst.New(analyst.DefaultOptions())
		if err != nil {
			return nil, fmt.Errorf("copilot: %w", err)
		}
		c.an = an
	}
	c.answers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_copilot_answers_total",
		Help: "Copilot answers by use and outcome (model, offline, or the reason the analyst answered instead).",
	}, []string{"use", "outcome"})
	if o.Registerer != nil {
		var err error
		if c.answers, err = promreg.Register(o.Registerer, c.answers); err != nil {
			return nil, fmt.Errorf("copilot: %w", err)
		}
	}
	return c, nil
}

// Online reports whether a model is configured.
func (c *Copilot) Online() bool { return c.o.Provider != nil }

// Analyst returns the offline analyst.
func (c *Copilot) Analyst() *analyst.Analyst { return c.an }

// source names who answered, for people.
func (c *Copilot) source() string {
	if c.o.Model != "" {
		return SourceModel + " " + c.o.Model
	}
	return SourceModel
}

// ask sends one structured request and decodes the answer into out. The
// answer must be a single JSON object with exactly the schema's fields;
// check validates the values. Tool calls in the answer are a violation:
// the copilot offers none and executes none.
func (c *Copilot) ask(ctx context.Context, system, user string, schema *JSONSchema, out any, check func() error) (string, error) {
	req := Request{
		Messages: []Message{
			{Role: RoleSystem, Content: system},
			{Role: RoleUser, Content: user},
		},
		MaxTokens:      c.o.MaxTokens,
		ResponseFormat: schema,
		Temperature:    ptr(0.0),
	}
	resp, err := c.o.Provider.Chat(ctx, req)
	if err != nil {
		return outcomeError, err
	}
	if len(resp.ToolCalls) > 0 {
		return outcomeInvalid, fmt.Errorf("%w: the model asked to call %q; the copilot runs nothing", ErrBadResponse, resp.ToolCalls[0].Name)
	}
	if err := decodeStrict(resp.Content, out); err != nil {
		return outcomeInvalid, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if err := check(); err != nil {
		return outcomeInvalid, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return outcomeModel, nil
}

func ptr[T any](v T) *T { return &v }

// decodeStrict decodes one JSON object (optionally in a ``` fence, as some
// local models answer) refusing unknown fields and trailing data.
func decodeStrict(content string, out any) error {
	s := strings.TrimSpace(content)
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(s, "```json")
		s = strings.TrimPrefix(s, "```")
		s = strings.TrimSuffix(strings.TrimSpace(s), "```")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("answer is not the expected JSON object: %v", err)
	}
	if dec.More() {
		return errors.New("answer holds more than one JSON value")
	}
	return nil
}

// count records one answer.
func (c *Copilot) count(use, outcome string) {
	c.answers.WithLabelValues(use, outcome).Inc()
}

// fallbackNote tells people why the analyst answered although a model is
// configured.
func fallbackNote(outcome string, err error, injLine int) string {
	switch outcome {
	case outcomeInjection:
		return fmt.Sprintf("the input holds text addressed to a language model (item %d); it was treated as data and the model's answer was not used", injLine)
	case outcomeError:
		return "the model did not answer (" + err.Error() + "); this is the offline analyst's answer"
	case outcomeInvalid:
		return "the model's answer did not follow the expected format (" + err.Error() + "); this is the offline analyst's answer"
	}
	return ""
}
