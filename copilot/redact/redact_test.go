package redact

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func newTest(t testing.TB, mod func(*Options)) *Redactor {
	t.Helper()
	o := DefaultOptions()
	if mod != nil {
		mod(&o)
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"openai", "key=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12", "key=<OPENAI_KEY_1>"},
		{"anthropic", "ANTHROPIC=sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3", "ANTHROPIC=<ANTHROPIC_KEY_1>"},
		{"github", "push with ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5 failed", "push with <GITHUB_TOKEN_1> failed"},
		{"gitlab", "GL glpat-xY7zQ2wE4rT6yU8iO0pA", "GL <GITLAB_TOKEN_1>"},
		{"slack", "hook xoxb-123456789012-abcDEF123456", "hook <SLACK_TOKEN_1>"},
		{"stripe", "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe <STRIPE_KEY_1>"},
		{"google", "maps AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "maps <GOOGLE_API_KEY_1>"},
		{"aws key", "AKIAIOSFODNN7EXAMPLE used", "<AWS_KEY_1> used"},
		{"aws secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = <AWS_SECRET_1>"},
		{"jwt", "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end", "t=<JWT_1> end"},
		{"bearer", `curl -H "Authorization: Bearer abc123DEF456ghi789" x`, `curl -H "Authorization: Bearer <BEARER_1>" x`},
		{"basic", "Authorization: Basic dXNlcjpwYXNzd29yZDE=", "Authorization: Basic <BASIC_AUTH_1>"},
		{"url pass", "postgres://app:s3cr3t@db-prod-1:5432/orders", "postgres://app:<PASSWORD_1>@db-prod-1:5432/orders"},
		{"redis empty user", "redis://:hunter2pw@cache:6379/0", "redis://:<PASSWORD_1>@cache:6379/0"},
		{"query", "GET /login?user=jdoe&password=pw12345&next=/", "GET /login?user=<NAME_1>&password=<PASSWORD_1>&next=/"},
		{"ado", "Server=db;User Id=sa;Password=P@ssw0rd!;Encrypt=true", "Server=db;User Id=sa;Password=<PASSWORD_1>;Encrypt=true"},
		{"json key", `{"client_secret":"abc\"def","x":1}`, `{"client_secret":"<SECRET_1>","x":1}`},
		{"yaml key", "  api_key: 9f8e7d6c5b4a", "  api_key: <API_KEY_1>"},
		{"email", "mail to jane.doe+ops@example.co.uk now", "mail to <EMAIL_1> now"},
		{"phone e164", "call +44 20 7946 0958 asap", "call <PHONE_1> asap"},
		{"phone us", "tel (415) 555-2671.", "tel <PHONE_1>."},
		{"card", "card 4111 1111 1111 1111 declined", "card <CARD_1> declined"},
		{"card bad luhn", "card 4111 1111 1111 1112 declined", "card 4111 1111 1111 1112 declined"},
		{"name", `user=jdoe name="Jane Doe" service_name=checkout name=checkout-api`, `user=<NAME_1> name="<NAME_2>" service_name=checkout name=checkout-api`},
		{"same value same placeholder", "a@b.io and a@b.io, c@d.io", "<EMAIL_1> and <EMAIL_1>, <EMAIL_2>"},
		{"recurrence", "password=Tr0ub4dor&3 ... login failed for Tr0ub4dor", "password=<PASSWORD_1> ... login failed for Tr0ub4dor"},
		{"ordinary", "2024-05-01T10:00:00Z GET /api/v1/orders 200 12.5ms 10.0.0.1:8080 v1.2.3 trace=4bf92f3577b34da6a3ce929d0e0e4736", "2024-05-01T10:00:00Z GET /api/v1/orders 200 12.5ms 10.0.0.1:8080 v1.2.3 trace=4bf92f3577b34da6a3ce929d0e0e4736"},
		{"skip markers", "password=*** token=<redacted> secret=${DB_SECRET}", "password=*** token=<redacted> secret=${DB_SECRET}"},
		{"pem", "k: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAbC=\n-----END RSA PRIVATE KEY----- ok", "k: <PRIVATE_KEY_1> ok"},
		{"k8s", "apiVersion: v1\nkind: Secret\ndata:\n  username: YWRtaW4=\n  tls.key: c2VjcmV0\nmetadata:\n  name: db", "apiVersion: v1\nkind: Secret\ndata:\n  username: <K8S_SECRET_1>\n  tls.key: <K8S_SECRET_2>\nmetadata:\n  name: db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTest(t, nil)
			got, _ := r.Redact(tc.in)
			if got != tc.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if back := r.Restore(got); back != tc.in {
				t.Errorf("Restore = %q, want %q", back, tc.in)
			}
		})
	}
}

func TestRedactIPs(t *testing.T) {
	r := newTest(t, func(o *Options) { o.RedactIPs = true })
	got, _ := r.Redact("from 10.1.2.3:443 and fe80::1 at 10:30:00 v1.2.3.4.5")
	want := "from <IP_1>:443 and <IP_2> at 10:30:00 v1.2.3.4.5"
	if got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestPatterns(t *testing.T) {
	r := newTest(t, func(o *Options) {
		o.Patterns = []Pattern{{Kind: "EMPLOYEE_ID", Expr: `emp_id=(E\d{6})`}}
	})
	got, fs := r.Redact("emp_id=E123456 ok")
	if got != "emp_id=<EMPLOYEE_ID_1> ok" || len(fs) != 1 {
		t.Errorf("got %q %v", got, fs)
	}
	for _, bad := range []Pattern{{Kind: "lower", Expr: "x"}, {Kind: "OK", Expr: "("}} {
		o := DefaultOptions()
		o.Patterns = []Pattern{bad}
		if _, err := New(o); err == nil {
			t.Errorf("New(%v): want error", bad)
		}
	}
}

func TestPlaceholderLiteralInInput(t *testing.T) {
	r := newTest(t, nil)
	in := "literal <EMAIL_1> and a@b.io"
	got, _ := r.Redact(in)
	if got != "literal <EMAIL_1> and <EMAIL_2>" {
		t.Errorf("got %q", got)
	}
	if back := r.Restore(got); back != in {
		t.Errorf("Restore = %q", back)
	}
}

func TestLogAndRecord(t *testing.T) {
	var got []Record
	r := newTest(t, func(o *Options) {
		o.LogSize = 2
		o.Record = func(rec Record) { got = append(got, rec) }
	})
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	r.RedactAt(at, "a@b.io")
	r.RedactAt(at.Add(time.Second), "password=hunter22")
	r.RedactAt(at.Add(2*time.Second), "nothing")
	log := r.Log()
	if len(log) != 2 || log[0].Text != "password=<PASSWORD_1>" || log[1].Text != "nothing" || !log[1].Time.Equal(at.Add(2*time.Second)) {
		t.Fatalf("log = %+v", log)
	}
	if len(got) != 3 || got[0].Counts[KindEmail] != 1 || strings.Contains(got[1].Text, "hunter22") {
		t.Fatalf("records = %+v", got)
	}
}

func TestConcurrent(t *testing.T) {
	r := newTest(t, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				in := "user a@b.io key AKIAIOSFODNN7EXAMPLE"
				out, _ := r.Redact(in)
				if out != "user <EMAIL_1> key <AWS_KEY_1>" || r.Restore(out) != in {
					t.Errorf("got %q", out)
					return
				}
			}
		}()
	}
	wg.Wait()
}
