package config

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Copilot selects the model that explains what Vigil found. With provider
// "none" (the default) the offline analyst answers, so every feature works
// air-gapped; "openai" means any server speaking the OpenAI chat-completions
// API (OpenAI, Ollama at http://localhost:11434/v1, vLLM, LM Studio, a
// company AI gateway). Whatever is sent is redacted first; redaction cannot
// be turned off.
type Copilot struct {
	Provider string `yaml:"provider"` // none or openai
	BaseURL  string `yaml:"base_url"`
	Model    string `yaml:"model"`
	// APIKeyEnv names the environment variable that holds the API key, so
	// the key never sits in the file. APIKeyFile is read on every call
	// instead (a mounted, rotated secret). Neither: no key is sent (Ollama).
	APIKeyEnv  string `yaml:"api_key_env"`
	APIKeyFile string `yaml:"api_key_file"`
	// Headers are added to every request (gateway keys, tenant ids).
	Headers map[string]string `yaml:"headers"`
	// ProxyURL sends requests through an HTTP(S) proxy; empty uses
	// HTTPS_PROXY/NO_PROXY from the environment.
	ProxyURL        string   `yaml:"proxy_url"`
	Timeout         Duration `yaml:"timeout"`
	MaxRetries      int      `yaml:"max_retries"`
	MaxPromptTokens int      `yaml:"max_prompt_tokens"`
	CacheSize       int      `yaml:"cache_size"`
	// RedactIPs also replaces IP addresses (off: they are evidence).
	RedactIPs bool `yaml:"redact_ips"`
	// RedactPatterns are extra site-specific detectors.
	RedactPatterns []RedactPattern `yaml:"redact_patterns"`
}

// RedactPattern is a site-specific value to scrub: Kind names the
// placeholder (EMPLOYEE_ID), Expr is an RE2 expression; with a capturing
// group only group 1 is replaced.
type RedactPattern struct {
	Kind string `yaml:"kind"`
	Expr string `yaml:"expr"`
}

// Copilot providers.
const (
	CopilotNone   = "none"
	CopilotOpenAI = "openai"
)

func defaultCopilot() Copilot {
	return Copilot{
		Provider:        CopilotNone,
		BaseURL:         "https://api.openai.com/v1",
		APIKeyEnv:       "OPENAI_API_KEY",
		Timeout:         Duration(60 * time.Second),
		MaxRetries:      3,
		MaxPromptTokens: 8000,
		CacheSize:       256,
	}
}

var redactKind = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func (c *Config) validateCopilot(add func(key, format string, args ...any)) {
	cp := &c.Copilot
	switch cp.Provider {
	case CopilotNone:
	case CopilotOpenAI:
		u, err := url.Parse(cp.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("copilot.base_url", "%q is not an http(s) URL", cp.BaseURL)
		} else if strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/chat/completions") {
			add("copilot.base_url", "%q must be the API root (like .../v1), not the endpoint", cp.BaseURL)
		}
		if cp.Model == "" {
			add("copilot.model", "must be set when provider is openai (e.g. gpt-4o-mini, llama3.1)")
		}
	default:
		add("copilot.provider", "%q is not one of none, openai", cp.Provider)
	}
	if cp.ProxyURL != "" {
		if p, err := url.Parse(cp.ProxyURL); err != nil || p.Host == "" {
			add("copilot.proxy_url", "%q is not a URL", cp.ProxyURL)
		}
	}
	for k := range cp.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			add("copilot.headers", "%q is not a header name", k)
		}
	}
	for k, v := range cp.Headers {
		if strings.ContainsAny(v, "\r\n") {
			add("copilot.headers."+k, "value holds a line break")
		}
	}
	if t := time.Duration(cp.Timeout); t < time.Second || t > 10*time.Minute {
		add("copilot.timeout", "%s is outside 1s..10m", cp.Timeout)
	}
	if cp.MaxRetries < 0 || cp.MaxRetries > 10 {
		add("copilot.max_retries", "%d is outside 0..10", cp.MaxRetries)
	}
	if cp.MaxPromptTokens < 0 {
		add("copilot.max_prompt_tokens", "must not be negative (0 means no budget)")
	}
	if cp.CacheSize < 0 {
		add("copilot.cache_size", "must not be negative (0 disables the cache)")
	}
	for i, p := range cp.RedactPatterns {
		key := "copilot.redact_patterns[" + strconv.Itoa(i) + "]"
		if !redactKind.MatchString(p.Kind) {
			add(key+".kind", "%q: want upper-case letters, digits and _ starting with a letter", p.Kind)
		}
		if _, err := regexp.Compile(p.Expr); err != nil {
			add(key+".expr", "%v", err)
		}
	}
}
