package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func message() *notify.Message {
	return &notify.Message{
		Receiver: "ops", GroupKey: `{}:{service="checkout"}`, Status: notify.StatusFiring,
		CommonLabels: telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout"),
		Alerts: []telemetry.Alert{
			{Labels: telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout"),
				Annotations: telemetry.LabelsFromStrings("summary", "5xx above 5% – ünïcode"), StartsAt: t0.Add(-time.Minute)},
			{Labels: telemetry.LabelsFromStrings("alertname", "HighLatency", "service", "checkout"),
				StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(-time.Minute)},
		},
		ExternalURL: "http://vigil.example", Now: t0,
	}
}

// parsed is a delivered message taken apart.
type parsed struct {
	header mail.Header
	parts  map[string]string // content type (without params) → decoded body
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	p := parsed{header: msg.Header, parts: map[string]string{}}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, cp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if cp["charset"] != "UTF-8" {
			t.Errorf("part %s charset %q", ct, cp["charset"])
		}
		b, err := io.ReadAll(part) // multipart decodes quoted-printable
		if err != nil {
			t.Fatal(err)
		}
		p.parts[ct] = string(b)
	}
	return p
}

func newNotifier(t *testing.T, s *smtpServer, mutate func(*Options)) *Notifier {
	t.Helper()
	o := DefaultOptions()
	o.Smarthost = s.addr()
	o.From = "Vigil <vigil@example.com>"
	o.To = []string{"oncall@example.com", "Team Lead <lead@example.com>"}
	o.Timeout = 5 * time.Second
	if mutate != nil {
		mutate(&o)
	}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEmailDeliveredWithSTARTTLSAndAuth(t *testing.T) {
	s, pool := newSMTPServer(t, true)
	n := newNotifier(t, s, func(o *Options) {
		o.AuthUsername, o.AuthPassword = "vigil", "pw"
		o.RequireTLS = true
		o.TLSConfig = &tls.Config{RootCAs: pool}
		o.Hello = "vigil.example"
	})
	if err := n.Notify(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	r := <-s.msgs
	if !r.tls || r.authUser != "vigil" || r.authPass != "pw" || r.helo != "vigil.example" {
		t.Errorf("session tls=%v auth=%q/%q helo=%q", r.tls, r.authUser, r.authPass, r.helo)
	}
	if r.from != "vigil@example.com" || strings.Join(r.to, ",") != "oncall@example.com,lead@example.com" {
		t.Errorf("envelope from %q to %v", r.from, r.to)
	}
	p := parse(t, r.data)
	subj, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
	if err != nil || subj != "[FIRING:1] HighErrorRate" {
		t.Errorf("subject %q, %v", subj, err)
	}
	if p.header.Get("From") != `"Vigil" <vigil@example.com>` || !strings.Contains(p.header.Get("To"), "lead@example.com") {
		t.Errorf("from %q to %q", p.header.Get("From"), p.header.Get("To"))
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(t0) {
		t.Errorf("date %v, %v", d, err)
	}
	if id := p.header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@vigil>") {
		t.Errorf("message-id %q", id)
	}
	if p.header.Get("MIME-Version") != "1.0" {
		t.Errorf("mime-version %q", p.header.Get("MIME-Version"))
	}
	text, html := p.parts["text/plain"], p.parts["text/html"]
	if !strings.Contains(text, "- FIRING HighErrorRate: 5xx above 5% – ünïcode") || !strings.Contains(text, "- RESOLVED HighLatency") {
		t.Errorf("text part %q", text)
	}
	if !strings.Contains(html, "<h2>[FIRING:1] HighErrorRate</h2>") || !strings.Contains(html, "<h3>Resolved</h3>") || !strings.Contains(html, "ünïcode") {
		t.Errorf("html part %q", html)
	}
	if len(p.parts) != 2 {
		t.Errorf("parts %v, want text and html", len(p.parts))
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	s, pool := startSMTPServer(t, false, true)
	n := newNotifier(t, s, func(o *Options) {
		o.ImplicitTLS = true
		o.TLSConfig = &tls.Config{RootCAs: pool}
		o.AuthUsername, o.AuthPassword = "u", "p"
	})
	if err := n.Notify(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	if r := <-s.msgs; !r.tls || r.authUser != "u" {
		t.Errorf("tls=%v auth=%q", r.tls, r.authUser)
	}
}

func TestEmailWithoutTLS(t *testing.T) {
	s, _ := newSMTPServer(t, false)
	n := newNotifier(t, s, nil)
	if err := n.Notify(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	if r := <-s.msgs; r.tls {
		t.Error("tls without STARTTLS offer")
	}
	// RequireTLS refuses, permanently.
	n = newNotifier(t, s, func(o *Options) { o.RequireTLS = true })
	err := n.Notify(context.Background(), message())
	var de *notify.DeliveryError
	if !errors.As(err, &de) || de.Retryable {
		t.Errorf("err = %v, want a permanent error", err)
	}
}

func TestEmailHeaderInjectionImpossible(t *testing.T) {
	s, _ := newSMTPServer(t, false)
	n := newNotifier(t, s, nil)
	m := message()
	evil := "x\r\nBcc: evil@example.com\r\nContent-Type: text/plain\r\n\r\n<script>alert(1)</script>"
	m.CommonLabels = m.CommonLabels.With("alertname", evil)
	m.Alerts[0].Annotations = telemetry.LabelsFromStrings("summary", evil)
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r := <-s.msgs
	p := parse(t, r.data)
	for k := range p.header {
		switch k {
		case "From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type", "Auto-Submitted":
		default:
			t.Errorf("unexpected header %q", k)
		}
	}
	if len(r.to) != 2 {
		t.Errorf("recipients %v", r.to)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
	if strings.ContainsAny(subj, "\r\n") || !strings.Contains(subj, "Bcc: evil") {
		t.Errorf("subject %q: want the value kept as one line of text", subj)
	}
	if strings.Contains(p.parts["text/html"], "<script>") {
		t.Error("html part not escaped")
	}
}

func TestEmailSMTPErrorsClassified(t *testing.T) {
	tests := []struct {
		code      int
		retryable bool
	}{{450, true}, {550, false}}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			s, _ := newSMTPServer(t, false)
			s.rcptCode = tt.code
			err := newNotifier(t, s, nil).Notify(context.Background(), message())
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.StatusCode != tt.code || de.Retryable != tt.retryable {
				t.Errorf("err = %v, want code %d retryable %v", err, tt.code, tt.retryable)
			}
		})
	}
	// Nobody listening: retryable.
	s, _ := newSMTPServer(t, false)
	n := newNotifier(t, s, nil)
	s.ln.Close()
	var de *notify.DeliveryError
	if err := n.Notify(context.Background(), message()); !errors.As(err, &de) || !de.Retryable {
		t.Errorf("err = %v, want retryable", err)
	}
}

func TestEmailOptionsValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
		want   error
	}{
		{"no port", func(o *Options) { o.Smarthost = "mail.example.com" }, notify.ErrInvalidOptions},
		{"bad from", func(o *Options) { o.From = "not an address" }, notify.ErrInvalidOptions},
		{"from with CRLF", func(o *Options) { o.From = "a@example.com\r\nBcc: b@example.com" }, notify.ErrInvalidOptions},
		{"no recipients", func(o *Options) { o.To = nil }, notify.ErrInvalidOptions},
		{"bad recipient", func(o *Options) { o.To = []string{"x"} }, notify.ErrInvalidOptions},
		{"bad hello", func(o *Options) { o.Hello = "a b" }, notify.ErrInvalidOptions},
		{"bad subject template", func(o *Options) { o.Subject = "{{ .Nope }}" }, notify.ErrTemplate},
		{"bad html template", func(o *Options) { o.HTML = "{{ .Data.Nope }}" }, notify.ErrTemplate},
		{"html parse error", func(o *Options) { o.HTML = "{{ if }}" }, notify.ErrTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Smarthost = "127.0.0.1:25"
			o.From = "vigil@example.com"
			o.To = []string{"ops@example.com"}
			tt.mutate(&o)
			if _, err := New(o); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzEmailMessage renders messages with hostile labels: the result must
// parse, carry exactly the headers we write, a one-line subject and both
// parts.
func FuzzEmailMessage(f *testing.F) {
	f.Add("HighErrorRate", "summary")
	f.Add("x\r\nBcc: a@b", "\r\n.\r\n")
	f.Add("=?utf-8?q?x?=", "\xff\x00")
	f.Add(strings.Repeat("long subject ", 100), strings.Repeat("é", 2000))
	o := DefaultOptions()
	o.Smarthost = "127.0.0.1:25"
	o.From = "vigil@example.com"
	o.To = []string{"ops@example.com"}
	n, err := New(o)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, summary string) {
		m := message()
		m.CommonLabels = telemetry.LabelsFromMap(map[string]string{"alertname": name})
		m.Alerts[0].Annotations = telemetry.LabelsFromMap(map[string]string{"summary": summary})
		data, err := n.Message(m)
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
		for _, line := range strings.Split(string(head), "\r\n") {
			if len(line) > 998 {
				t.Fatalf("header line of %d octets", len(line))
			}
		}
		if bytes.ContainsAny(bytes.ReplaceAll(data, []byte("\r\n"), nil), "\r\n") {
			t.Fatal("bare CR or LF in message")
		}
		p := parse(t, data)
		if len(p.header) != 8 {
			t.Fatalf("headers %v", p.header)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
		if err != nil || strings.ContainsAny(subj, "\r\n") {
			t.Fatalf("subject %q, %v", subj, err)
		}
		if len(p.parts) != 2 {
			t.Fatalf("parts %d", len(p.parts))
		}
	})
}
