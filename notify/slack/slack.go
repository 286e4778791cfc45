// Package slack posts notifications to a Slack incoming webhook as Block
// Kit blocks with a plain-text fallback.
//
// Slack limits (Block Kit reference): header text 150 characters, section
// text 3000, button text 75, button URL 3000, 50 blocks per message. Every
// rendered field is cut to its limit so that Slack never rejects a message
// for its size.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/notify"
)

// Block Kit limits.
const (
	maxHeader     = 150
	maxSection    = 3000
	maxButtonText = 75
	maxURL        = 3000
	maxFallback   = 3000
	maxContext    = 2000
)

// Options configure a Slack Notifier.
type Options struct {
	// WebhookURL is the incoming webhook URL. Required; it is a secret.
	WebhookURL string
	// Channel, Username and IconEmoji override the webhook's defaults
	// where the workspace still honours them (legacy webhooks).
	Channel   string
	Username  string
	IconEmoji string
	// Title and Text are text/template sources; empty means the defaults
	// (notify.DefaultTitleTemplate, notify.DefaultTextTemplate).
	Title string
	Text  string
	// Timeout bounds one request.
	Timeout time.Duration
	// Client overrides the HTTP client (tests); Timeout is then ignored.
	Client *http.Client
	Logger *slog.Logger
}

// DefaultOptions returns the defaults: default templates, 10s timeout.
func DefaultOptions() Options {
	return Options{Timeout: notify.DefaultTimeout}
}

func (o *Options) validate() error {
	u, err := url.Parse(o.WebhookURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: slack webhook url must be an absolute http(s) URL", notify.ErrInvalidOptions)
	}
	return notify.DefaultHTTP("slack", &o.Client, o.Timeout, &o.Logger)
}

// Notifier posts to Slack. It is safe for concurrent use.
type Notifier struct {
	opts  Options
	title *notify.Template
	text  *notify.Template
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Slack Notifier; template errors are reported here.
func New(opts Options) (*Notifier, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	n := &Notifier{opts: opts}
	var err error
	if n.title, err = notify.NewTemplate("slack title", or(opts.Title, notify.DefaultTitleTemplate)); err != nil {
		return nil, err
	}
	if n.text, err = notify.NewTemplate("slack text", or(opts.Text, notify.DefaultTextTemplate)); err != nil {
		return nil, err
	}
	return n, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Integration names the integration for metrics and the notification log.
func (n *Notifier) Integration() string { return "slack" }

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m *notify.Message) error {
	p, err := n.Payload(m)
	if err != nil {
		return err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return notify.Permanent(fmt.Errorf("encode slack payload: %w", err))
	}
	if err := notify.PostJSON(ctx, n.opts.Client, n.opts.WebhookURL, body, nil); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	return nil
}

// Payload is the incoming-webhook message.
type Payload struct {
	// Text is the fallback shown in notifications and where blocks are
	// not rendered.
	Text      string  `json:"text"`
	Blocks    []Block `json:"blocks"`
	Channel   string  `json:"channel,omitempty"`
	Username  string  `json:"username,omitempty"`
	IconEmoji string  `json:"icon_emoji,omitempty"`
}

// Block is one Block Kit layout block (header, section, context, actions).
type Block struct {
	Type     string         `json:"type"`
	Text     *TextObject    `json:"text,omitempty"`
	Elements []BlockElement `json:"elements,omitempty"`
}

// TextObject is a Block Kit composition text object.
type TextObject struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// BlockElement is a context element (a text object) or a button.
type BlockElement struct {
	Type     string      `json:"type"`
	Text     interface{} `json:"text,omitempty"` // string for mrkdwn context, *TextObject for a button
	URL      string      `json:"url,omitempty"`
	ActionID string      `json:"action_id,omitempty"`
	Style    string      `json:"style,omitempty"`
}

// Payload builds the message for m.
func (n *Notifier) Payload(m *notify.Message) (*Payload, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	title, err := n.title.Execute(m)
	if err != nil {
		return nil, err
	}
	text, err := n.text.Execute(m)
	if err != nil {
		return nil, err
	}
	title = strings.TrimSpace(notify.OneLine(title))
	if title == "" {
		title = m.Status
	}
	text = strings.TrimSpace(text)
	p := &Payload{
		Text:      notify.Truncate(Escape(title+"\n"+text), maxFallback),
		Channel:   n.opts.Channel,
		Username:  n.opts.Username,
		IconEmoji: n.opts.IconEmoji,
	}
	p.Blocks = append(p.Blocks, Block{Type: "header", Text: &TextObject{Type: "plain_text", Text: notify.Truncate(title, maxHeader), Emoji: true}})
	if text != "" {
		p.Blocks = append(p.Blocks, Block{Type: "section", Text: &TextObject{Type: "mrkdwn", Text: notify.Truncate(Escape(text), maxSection)}})
	}
	ctxText := "*Status:* " + m.Status + "  *Receiver:* " + Escape(m.Receiver)
	firing, resolved := len(m.Firing()), len(m.Resolved())
	if firing+resolved > 0 {
		ctxText += "  *Alerts:* " + strconv.Itoa(firing) + " firing, " + strconv.Itoa(resolved) + " resolved"
	}
	if inc := m.Incident; inc != nil && inc.Severity != "" {
		ctxText += "  *Severity:* " + Escape(notify.OneLine(inc.Severity))
	}
	p.Blocks = append(p.Blocks, Block{Type: "context", Elements: []BlockElement{{Type: "mrkdwn", Text: notify.Truncate(ctxText, maxContext)}}})
	link, label := m.ExternalURL, "Open in Vigil"
	if m.Incident != nil && m.Incident.URL != "" {
		link, label = m.Incident.URL, "Open incident"
	}
	if validLink(link) {
		p.Blocks = append(p.Blocks, Block{Type: "actions", Elements: []BlockElement{{
			Type:     "button",
			Text:     &TextObject{Type: "plain_text", Text: notify.Truncate(label, maxButtonText)},
			URL:      link,
			ActionID: "vigil_open",
		}}})
	}
	return p, nil
}

// validLink reports whether s can be a button URL: absolute http(s) and
// within Slack's length limit.
func validLink(s string) bool {
	if s == "" || len(s) > maxURL {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Escape escapes the three characters Slack's mrkdwn treats as control
// sequences, so label values cannot forge links or mentions (<!channel>).
func Escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
