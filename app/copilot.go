package app

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/copilot/openai"
	"github.com/vigilops/vigil/copilot/redact"
)

// NewCopilot builds the copilot the configuration asks for: the offline
// analyst alone with provider none, or an OpenAI-compatible model behind
// redaction. The API key comes from the variable named by api_key_env, or
// from api_key_file (read on every call); it never sits in the file.
func NewCopilot(cfg config.Copilot, log *slog.Logger, reg prometheus.Registerer) (*copilot.Copilot, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := copilot.DefaultOptions()
	o.Logger, o.Registerer = log.With("component", "copilot"), reg
	if cfg.Provider == config.CopilotOpenAI {
		ro := redact.DefaultOptions()
		ro.RedactIPs, ro.Logger = cfg.RedactIPs, o.Logger
		for _, p := range cfg.RedactPatterns {
			ro.Patterns = append(ro.Patterns, redact.Pattern{Kind: redact.Kind(p.Kind), Expr: p.Expr})
		}
		rd, err := redact.New(ro)
		if err != nil {
			return nil, fmt.Errorf("copilot redaction: %w", err)
		}
		oo := openai.DefaultOptions()
		oo.BaseURL, oo.Model, oo.Headers, oo.ProxyURL = cfg.BaseURL, cfg.Model, cfg.Headers, cfg.ProxyURL
		oo.Timeout, oo.MaxRetries = time.Duration(cfg.Timeout), cfg.MaxRetries
		oo.MaxPromptTokens, oo.CacheSize = cfg.MaxPromptTokens, cfg.CacheSize
		oo.Redactor, oo.Logger = rd, o.Logger
		if cfg.APIKeyFile != "" {
			oo.APIKeyFile = cfg.APIKeyFile
		} else if cfg.APIKeyEnv != "" {
			oo.APIKey = os.Getenv(cfg.APIKeyEnv)
		}
		cl, err := openai.New(oo)
		if err != nil {
			return nil, fmt.Errorf("copilot model: %w", err)
		}
		o.Provider, o.Model = cl, cfg.Model
	}
	return copilot.New(o)
}
