// Package email sends notifications by SMTP (net/smtp): STARTTLS whenever
// the server offers it, AUTH PLAIN when credentials are set, and a
// multipart/alternative message with a text and an HTML part.
//
// Invariant: no message content reaches a header unencoded. Labels and
// annotations go into the subject only after line breaks are removed and
// RFC 2047 encoding, and into the body only as quoted-printable, so a label
// value cannot inject headers.
package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/notify"
)

// DefaultHTMLTemplate renders the HTML part. It sees HTMLData.
const DefaultHTMLTemplate = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body style="font-family: sans-serif">
<h2>{{ .Title }}</h2>
{{ with .Data.Incident }}<p><b>Incident {{ .ID }}</b> ({{ .Status }}{{ with .Severity }}, {{ . }}{{ end }})</p>
{{ with .Summary }}<p>{{ . }}</p>{{ end }}
{{ with .Services }}<p>Services: {{ join ", " . }}</p>{{ end }}
{{ with .RootCause }}<p>Probable root cause: {{ . }}</p>{{ end }}
{{ with .URL }}<p><a href="{{ . }}">Open the incident</a></p>{{ end }}
{{ end }}{{ with .Data.Firing }}<h3>Firing</h3><ul>
{{ range . }}<li><b>{{ .Labels.alertname }}</b>{{ with .Annotations.summary }}: {{ . }}{{ end }}<br><small>{{ .Labels.SortedPairs.String }}</small>{{ with .GeneratorURL }} <a href="{{ . }}">source</a>{{ end }}</li>
{{ end }}</ul>{{ end }}{{ with .Data.Resolved }}<h3>Resolved</h3><ul>
{{ range . }}<li><b>{{ .Labels.alertname }}</b>{{ with .Annotations.summary }}: {{ . }}{{ end }}<br><small>{{ .Labels.SortedPairs.String }}</small></li>
{{ end }}</ul>{{ end }}{{ with .Data.ExternalURL }}<p><a href="{{ . }}">Vigil</a></p>{{ end }}
</body></html>
`

// Options configure an e-mail Notifier.
type Options struct {
	// Smarthost is the SMTP server, host:port.
	Smarthost string
	// ImplicitTLS speaks TLS from the first byte (SMTPS); it is set
	// automatically for port 465. Otherwise STARTTLS is used when offered.
	ImplicitTLS bool
	// From is the sender, an RFC 5322 address ("Vigil <vigil@example.com>").
	From string
	// To are the recipients.
	To []string
	// Hello is the name sent in EHLO.
	Hello string
	// AuthUsername, AuthPassword and AuthIdentity enable AUTH PLAIN.
	AuthUsername string
	AuthPassword string
	AuthIdentity string
	// RequireTLS refuses to send when the server does not offer STARTTLS.
	RequireTLS bool
	// TLSConfig overrides the TLS settings (a private CA); ServerName
	// defaults to the smarthost's host.
	TLSConfig *tls.Config
	// Subject and Text are text/template sources, HTML an html/template
	// source; empty means the defaults.
	Subject string
	Text    string
	HTML    string
	// Timeout bounds one delivery (dial to QUIT).
	Timeout time.Duration
	Logger  *slog.Logger
}

// DefaultOptions returns the defaults: EHLO "localhost", STARTTLS when
// offered, default templates, 30s timeout.
func DefaultOptions() Options {
	return Options{Hello: "localhost", Timeout: 30 * time.Second}
}

// Limits on what goes into headers.
const (
	maxSubject    = 200
	maxRecipients = 100
)

// Notifier sends e-mail. It is safe for concurrent use.
type Notifier struct {
	opts    Options
	host    string
	from    *mail.Address
	to      []*mail.Address
	subject *notify.Template
	text    *notify.Template
	html    *htmltemplate.Template
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns an e-mail Notifier; address and template errors are
// reported here.
func New(opts Options) (*Notifier, error) {
	n := &Notifier{opts: opts}
	if err := n.validate(); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Notifier) validate() error {
	o := &n.opts
	host, port, err := net.SplitHostPort(o.Smarthost)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("%w: email smarthost %q must be host:port", notify.ErrInvalidOptions, o.Smarthost)
	}
	n.host = host
	if port == "465" {
		o.ImplicitTLS = true
	}
	if n.from, err = parseAddress(o.From); err != nil {
		return fmt.Errorf("%w: email from: %v", notify.ErrInvalidOptions, err)
	}
	if len(o.To) == 0 || len(o.To) > maxRecipients {
		return fmt.Errorf("%w: email needs 1 to %d recipients, got %d", notify.ErrInvalidOptions, maxRecipients, len(o.To))
	}
	for _, t := range o.To {
		a, err := parseAddress(t)
		if err != nil {
			return fmt.Errorf("%w: email to: %v", notify.ErrInvalidOptions, err)
		}
		n.to = append(n.to, a)
	}
	if o.Hello == "" {
		o.Hello = "localhost"
	}
	if hasControl(o.Hello) || strings.ContainsAny(o.Hello, " ") {
		return fmt.Errorf("%w: email hello %q is not a host name", notify.ErrInvalidOptions, o.Hello)
	}
	if hasControl(o.AuthUsername) || hasControl(o.AuthIdentity) {
		return fmt.Errorf("%w: email auth username has control characters", notify.ErrInvalidOptions)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("%w: email timeout %v must be positive", notify.ErrInvalidOptions, o.Timeout)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if n.subject, err = notify.NewTemplate("email subject", or(o.Subject, notify.DefaultTitleTemplate)); err != nil {
		return err
	}
	if n.text, err = notify.NewTemplate("email text", or(o.Text, notify.DefaultTextTemplate)); err != nil {
		return err
	}
	n.html, err = htmltemplate.New("email html").Option("missingkey=zero").Funcs(htmltemplate.FuncMap{
		"join":     func(sep string, s []string) string { return strings.Join(s, sep) },
		"toUpper":  strings.ToUpper,
		"toLower":  strings.ToLower,
		"truncate": func(k int, s string) string { return notify.Truncate(s, k) },
	}).Parse(or(o.HTML, DefaultHTMLTemplate))
	if err != nil {
		return fmt.Errorf("%w: parse email html: %v", notify.ErrTemplate, err)
	}
	for _, m := range notify.SampleMessages() {
		if _, err := n.render(m); err != nil {
			return err
		}
	}
	return nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func parseAddress(s string) (*mail.Address, error) {
	if hasControl(s) {
		return nil, fmt.Errorf("address %q has control characters", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", s, err)
	}
	return a, nil
}

// Integration names the integration for metrics and the notification log.
func (n *Notifier) Integration() string { return "email" }

// HTMLData is what the HTML template sees.
type HTMLData struct {
	Title string
	Text  string
	Data  *notify.Data
}

type rendered struct {
	subject, text, html string
}

func (n *Notifier) render(m *notify.Message) (rendered, error) {
	var r rendered
	s, err := n.subject.Execute(m)
	if err != nil {
		return r, err
	}
	r.subject = notify.Truncate(strings.TrimSpace(notify.OneLine(s)), maxSubject)
	if r.text, err = n.text.Execute(m); err != nil {
		return r, err
	}
	var b bytes.Buffer
	if err := n.html.Execute(&b, HTMLData{Title: r.subject, Text: r.text, Data: notify.NewData(m)}); err != nil {
		return r, fmt.Errorf("%w: render email html: %v", notify.ErrTemplate, err)
	}
	r.html = strings.ToValidUTF8(b.String(), "\uFFFD")
	return r, nil
}

// Message renders the complete RFC 5322 message for m, CRLF line endings.
func (n *Notifier) Message(m *notify.Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	r, err := n.render(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	tos := make([]string, len(n.to))
	for i, a := range n.to {
		tos[i] = a.String()
	}
	id := sha256.Sum256([]byte(m.Receiver + "\x00" + m.GroupKey + "\x00" + notify.ContentHash(m)))
	hdr := []struct{ k, v string }{
		{"From", n.from.String()},
		{"To", strings.Join(tos, ", ")},
		{"Subject", encodeSubject(r.subject)},
		{"Date", m.Now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id[:16]) + "." + m.Now.UTC().Format("20060102150405") + "@vigil>"},
		{"MIME-Version", "1.0"},
		{"Content-Type", `multipart/alternative; boundary="` + mw.Boundary() + `"`},
		{"Auto-Submitted", "auto-generated"},
	}
	var head bytes.Buffer
	for _, h := range hdr {
		head.WriteString(h.k + ": " + h.v + "\r\n")
	}
	head.WriteString("\r\n")
	for _, part := range []struct{ ctype, body string }{
		{"text/plain; charset=UTF-8", r.text},
		{"text/html; charset=UTF-8", r.html},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("build email: %w", err)
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(toCRLF(part.body))); err != nil {
			return nil, fmt.Errorf("build email: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("build email: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("build email: %w", err)
	}
	return append(head.Bytes(), buf.Bytes()...), nil
}

// encodeSubject RFC 2047-encodes a one-line subject when it is not plain
// ASCII, or when it holds "=?" (which a reader would otherwise decode as an
// encoded word the sender never wrote), and folds it between encoded words
// so no header line grows past the 998-octet limit.
func encodeSubject(s string) string {
	if !strings.Contains(s, "=?") && mime.QEncoding.Encode("utf-8", s) == s {
		return s
	}
	const chunk = 45 // bytes per word: 60 base64 characters plus the wrapper
	var words []string
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > chunk && n > 0 {
				break
			}
			n += size
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, "\r\n ")
}

func toCRLF(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// Notify sends m to the configured recipients.
func (n *Notifier) Notify(ctx context.Context, m *notify.Message) error {
	msg, err := n.Message(m)
	if err != nil {
		return err
	}
	if err := n.send(ctx, msg); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	return nil
}

func (n *Notifier) tlsConfig() *tls.Config {
	var c *tls.Config
	if n.opts.TLSConfig != nil {
		c = n.opts.TLSConfig.Clone()
	} else {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.ServerName == "" {
		c.ServerName = n.host
	}
	return c
}

func (n *Notifier) send(ctx context.Context, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", n.opts.Smarthost)
	if err != nil {
		return notify.Retryable(fmt.Errorf("dial: %w", err))
	}
	defer conn.Close()
	// net/smtp takes no context: a deadline on the connection, moved to
	// the past when ctx ends, bounds every step.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	implicitTLS := n.opts.ImplicitTLS
	if implicitTLS {
		tc := tls.Client(conn, n.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return notify.Retryable(fmt.Errorf("tls handshake: %w", err))
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, n.host)
	if err != nil {
		return classify("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(n.opts.Hello); err != nil {
		return classify("ehlo", err)
	}
	if !implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(n.tlsConfig()); err != nil {
				return classify("starttls", err)
			}
		} else if n.opts.RequireTLS {
			return notify.Permanent(errors.New("server does not offer STARTTLS and TLS is required"))
		}
	}
	if n.opts.AuthUsername != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return notify.Permanent(errors.New("server does not offer AUTH PLAIN"))
		}
		if err := c.Auth(smtp.PlainAuth(n.opts.AuthIdentity, n.opts.AuthUsername, n.opts.AuthPassword, n.host)); err != nil {
			return classify("auth", err)
		}
	}
	if err := c.Mail(n.from.Address); err != nil {
		return classify("mail from", err)
	}
	for _, a := range n.to {
		if err := c.Rcpt(a.Address); err != nil {
			return classify("rcpt to", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return classify("data", err)
	}
	if err := w.Close(); err != nil {
		return classify("data", err)
	}
	if err := c.Quit(); err != nil {
		// The message was accepted at the end of DATA; a failed QUIT does
		// not undo that, and retrying would send it twice.
		n.opts.Logger.Debug("smtp quit failed", "err", err)
	}
	return nil
}

// classify maps SMTP replies onto retry decisions: 4xx are transient,
// 5xx permanent; connection errors are retryable.
func classify(step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		de := &notify.DeliveryError{StatusCode: te.Code, Retryable: te.Code >= 400 && te.Code < 500, Err: fmt.Errorf("%s: %w", step, err)}
		return de
	}
	if strings.Contains(err.Error(), "unencrypted connection") {
		return notify.Permanent(fmt.Errorf("%s: %w", step, err))
	}
	return notify.Retryable(fmt.Errorf("%s: %w", step, err))
}
