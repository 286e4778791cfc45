package redact

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// gen builds a deterministic corpus of log entries with seeded sensitive
// values (the values to check for leaks) and ordinary entries (to measure
// false redactions).
type gen struct{ rng *rand.Rand }

const (
	alnumChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upperChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	hexChars   = "0123456789abcdef"
	b64Chars   = alnumChars + "+/"
	urlChars   = alnumChars + "-_"
)

func (g gen) str(chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.rng.IntN(len(chars))]
	}
	// Generated credentials always mix digits and letters; force it so a rare
	// all-letter draw does not make the test flaky for the wrong reason.
	if n >= 4 && strings.ContainsAny(chars, "0123456789") && strings.ContainsAny(chars, "ABCDEF") {
		b[0], b[1] = 'B', '7'
	} else if n >= 4 && strings.ContainsAny(chars, "0123456789") && strings.ContainsAny(chars, "abcdef") {
		b[0], b[1] = 'b', '7'
	}
	return string(b)
}

func (g gen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }
func (g gen) n(lo, hi int) int         { return lo + g.rng.IntN(hi-lo+1) }

func (g gen) ts() string {
	return fmt.Sprintf("2024-%02d-%02dT%02d:%02d:%02d.%03dZ", g.n(1, 12), g.n(1, 28), g.n(0, 23), g.n(0, 59), g.n(0, 59), g.n(0, 999))
}
func (g gen) ip() string {
	return fmt.Sprintf("%s.%d.%d.%d", g.pick("10", "172", "192"), g.n(0, 255), g.n(0, 255), g.n(1, 254))
}
func (g gen) uuid() string {
	return g.str(hexChars, 8) + "-" + g.str(hexChars, 4) + "-4" + g.str(hexChars, 3) + "-a" + g.str(hexChars, 3) + "-" + g.str(hexChars, 12)
}
func (g gen) host() string {
	return g.pick("db-prod-1", "db-prod-2", "cache-3", "api-gw", "orders-7d9f8c6b5-x2kqz", "ip-10-0-1-23.ec2.internal") + ":" + g.pick("5432", "6379", "8080", "443", "9092")
}
func (g gen) svc() string {
	return g.pick("checkout", "orders", "payments", "inventory", "auth", "search", "frontend", "billing-worker")
}

var (
	firstNames = []string{"Olivia", "Mateo", "Ingrid", "Kwame", "Priyanka", "Sebastien", "Yuki", "Fatima", "Dmitri", "Lucia", "Oluwaseun", "Henrik"}
	lastNames  = []string{"Okonkwo", "Lindqvist", "Castellanos", "Nakamura", "Abernathy", "Przybylski", "Haddad", "Moreau", "Vasquez", "Thorsen"}
)

func (g gen) card() string {
	prefix := g.pick("4", "51", "55", "2221", "37", "6011")
	n := 16
	if prefix == "37" {
		n = 15
	}
	d := []byte(prefix + g.str("0123456789", n-len(prefix)-1))
	for c := byte('0'); c <= '9'; c++ {
		ds := make([]byte, n)
		for i, x := range append(d, c) {
			ds[i] = x - '0'
		}
		if luhn(ds) {
			d = append(d, c)
			break
		}
	}
	s := string(d)
	switch g.rng.IntN(3) {
	case 0:
		if n == 16 {
			return s[:4] + " " + s[4:8] + " " + s[8:12] + " " + s[12:]
		}
	case 1:
		if n == 16 {
			return s[:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:]
		}
	}
	return s
}

func (g gen) phone() string {
	d := func(k int) string { return g.str("0123456789", k) }
	switch g.rng.IntN(5) {
	case 0:
		return "+1 " + fmt.Sprint(g.n(201, 989)) + " " + fmt.Sprint(g.n(200, 999)) + " " + d(4)
	case 1:
		return "+44 20 " + d(4) + " " + d(4)
	case 2:
		return "+49" + fmt.Sprint(g.n(150, 179)) + d(8)
	case 3:
		return fmt.Sprintf("(%d) %d-%s", g.n(201, 989), g.n(200, 999), d(4))
	}
	return fmt.Sprintf("0%d %s %s %s %s", g.n(1, 7), d(2), d(2), d(2), d(2))
}

// seeded returns one log entry and the sensitive values it holds.
func (g gen) seeded(i int) (string, []string, string) {
	ts := g.ts()
	switch i % 26 {
	case 0:
		v := "sk-proj-" + g.str(urlChars, 48)
		return fmt.Sprintf(`{"ts":"%s","level":"error","msg":"openai call failed","api_key":"%s","status":401}`, ts, v), []string{v}, "openai"
	case 1:
		v := "sk-ant-api03-" + g.str(urlChars, 80)
		return fmt.Sprintf(`curl https://api.anthropic.com/v1/messages -H "x-api-key: %s" -H "content-type: application/json"`, v), []string{v}, "anthropic"
	case 2:
		v := g.pick("ghp_", "gho_", "ghs_") + g.str(alnumChars, 36)
		return fmt.Sprintf(`time=%s level=warn msg="git clone failed" url=https://%s@github.com/acme/infra.git`, ts, v), []string{v}, "github"
	case 3:
		v := "glpat-" + g.str(urlChars, 20)
		return fmt.Sprintf(`%s ci-runner[812]: export CI_TOKEN=%s && ./deploy.sh --env prod`, ts, v), []string{v}, "gitlab"
	case 4:
		v := "xoxb-" + g.str("0123456789", 12) + "-" + g.str("0123456789", 13) + "-" + g.str(alnumChars, 24)
		return fmt.Sprintf(`level=info notifier=slack msg="posting" webhook_token=%s channel=#ops-alerts`, v), []string{v}, "slack"
	case 5:
		v := g.pick("sk_live_", "rk_live_") + g.str(alnumChars, 24)
		return fmt.Sprintf(`%s ERROR [payments] stripe.error.AuthenticationError: Invalid API Key provided: %s`, ts, v), []string{v}, "stripe"
	case 6:
		v := "AIza" + g.str(urlChars, 35)
		return fmt.Sprintf(`%s - - [01/May/2024:10:%02d:00 +0000] "GET /maps/api/geocode/json?address=x&key=%s HTTP/1.1" 403 112 "-" "okhttp/4.9"`, g.ip(), g.n(0, 59), v), []string{v}, "google"
	case 7:
		v := "SG." + g.str(urlChars, 22) + "." + g.str(urlChars, 43)
		return fmt.Sprintf(`{"time":"%s","mailer":"sendgrid","config":{"key":"%s"},"sent":0}`, ts, v), []string{v}, "sendgrid"
	case 8:
		v := "SK" + g.str(hexChars, 32)
		w := "npm_" + g.str(alnumChars, 36)
		return fmt.Sprintf(`env: TWILIO_API_KEY_SID=%s NPM_CONFIG=//registry.npmjs.org/:_authToken=%s`, v, w), []string{v, w}, "twilio+npm"
	case 9:
		v := "hf_" + g.str(alnumChars, 34)
		return fmt.Sprintf(`%s INFO model-loader: downloading meta-llama/Llama-3-8B with use_auth_token %s`, ts, v), []string{v}, "huggingface"
	case 10:
		k := "AKIA" + g.str(upperChars, 16)
		s := g.str(b64Chars, 40)
		return fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = eu-west-1", k, s), []string{k, s}, "aws"
	case 11:
		v := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ" + g.str(urlChars, 60) + "." + g.str(urlChars, 86)
		return fmt.Sprintf(`%s 10.0.3.7 "POST /api/v1/refunds HTTP/2" 401 "Authorization: Bearer %s"`, ts, v), []string{v}, "jwt"
	case 12:
		v := g.str(alnumChars, 40)
		return fmt.Sprintf(`curl -sS -X POST https://hooks.internal/deploy -H 'Authorization: Bearer %s' -d '{"ref":"main"}'`, v), []string{v}, "bearer"
	case 13:
		v := base64.StdEncoding.EncodeToString([]byte("svc-deploy:" + g.str(alnumChars, 14)))
		return fmt.Sprintf(`%s DEBUG http.client: > Authorization: Basic %s`, ts, v), []string{v}, "basic"
	case 14:
		body := []string{g.str(b64Chars, 64), g.str(b64Chars, 64), g.str(b64Chars, 24) + "=="}
		return fmt.Sprintf("%s loaded key:\n-----BEGIN %sPRIVATE KEY-----\n%s\n-----END %sPRIVATE KEY-----\n", ts, g.pick("", "RSA ", "EC "), strings.Join(body, "\n"), "RSA "), body, "pem"
	case 15:
		v := g.str(alnumChars, 10) + g.pick("!", "#", "%25", "_")
		return fmt.Sprintf(`%s FATAL db: cannot connect to %s://orders_app:%s@db-prod-1:5432/orders?sslmode=require`, ts, g.pick("postgres", "mysql", "mongodb"), v), []string{v}, "url-password"
	case 16:
		v := g.str(alnumChars, 12) + g.pick("!", "$", "@", "&x")
		return fmt.Sprintf(`Server=tcp:sql-prod.database.windows.net,1433;Database=orders;User ID=svc_orders;Password=%s;Encrypt=True;`, v), []string{v}, "ado-password"
	case 17:
		v := g.str(alnumChars, 18)
		w := g.str(alnumChars, 24)
		return fmt.Sprintf(`time=%s level=debug msg="loaded config" db_password=%s client_secret="%s" retries=3`, ts, v, w), []string{v, w}, "kv-secrets"
	case 18:
		v := base64.StdEncoding.EncodeToString([]byte(g.str(alnumChars, 18)))
		w := base64.StdEncoding.EncodeToString([]byte(g.str(alnumChars, 9)))
		return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: orders-db\n  namespace: prod\ntype: Opaque\ndata:\n  password: %s\n  username: %s\n", v, w), []string{v, w}, "k8s-secret"
	case 19:
		v := base64.StdEncoding.EncodeToString([]byte(g.str(alnumChars, 21)))
		return fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"api-creds"},"data":{"token":"%s"}}`, v), []string{v}, "k8s-secret-json"
	case 20:
		f, l := g.pick(firstNames...), g.pick(lastNames...)
		v := strings.ToLower(f) + "." + strings.ToLower(l) + fmt.Sprint(g.n(1, 99)) + "@" + g.pick("gmail.com", "example.org", "acme-corp.io")
		return fmt.Sprintf(`{"ts":"%s","event":"signup","email":"%s","plan":"pro"}`, ts, v), []string{v}, "email"
	case 21:
		v := g.phone()
		return fmt.Sprintf(`%s INFO sms-gateway: delivered OTP to %s in 812ms`, ts, v), []string{v}, "phone"
	case 22:
		v := g.card()
		return fmt.Sprintf(`%s WARN [checkout] payment declined card_number=%s amount=42.10 currency=EUR`, ts, v), []string{v}, "card"
	case 23:
		f, l := g.pick(firstNames...), g.pick(lastNames...)
		return fmt.Sprintf(`{"ts":"%s","msg":"order shipped","customer":"%s %s","order_id":"ord_%s"}`, ts, f, l, g.str(alnumChars, 10)), []string{f + " " + l}, "name"
	case 24:
		u := strings.ToLower(g.pick(firstNames...)[:1] + g.pick(lastNames...))
		return fmt.Sprintf(`%s sshd[2211]: Failed password for user=%s from %s port 52144 ssh2`, ts, u, g.ip()), []string{u}, "username"
	}
	v := g.str(alnumChars, 16)
	return fmt.Sprintf("java.sql.SQLException: Access denied for user 'app'@'10.0.0.12' (using password: YES)\n\tat com.mysql.cj.jdbc.ConnectionImpl.connect(ConnectionImpl.java:812)\nCaused by: jdbc:mysql://db-prod-1:3306/orders?user=app&password=%s&useSSL=true", v), []string{v}, "jdbc"
}

// ordinary returns an entry with no sensitive value but plenty of the tokens
// ops logs are made of.
func (g gen) ordinary(i int) string {
	ts := g.ts()
	switch i % 10 {
	case 0:
		return fmt.Sprintf(`%s - - [01/May/2024:10:%02d:%02d +0000] "GET /api/v1/orders/%d?page=%d HTTP/1.1" %s %d "-" "Mozilla/5.0 (X11; Linux x86_64)" 0.%03d`, g.ip(), g.n(0, 59), g.n(0, 59), g.n(1, 999999), g.n(1, 20), g.pick("200", "201", "304", "404", "500", "503"), g.n(100, 99999), g.n(1, 999))
	case 1:
		return fmt.Sprintf(`{"ts":"%s","level":"%s","service":"%s","msg":"request completed","order_id":"%s","duration_ms":%d.%d,"trace_id":"%s","span_id":"%s","host":"%s","status":%s}`, ts, g.pick("info", "warn", "error"), g.svc(), g.uuid(), g.n(1, 5000), g.n(0, 9), g.str(hexChars, 32), g.str(hexChars, 16), g.host(), g.pick("200", "404", "500"))
	case 2:
		return fmt.Sprintf(`ts=%s level=warn msg="slow query" db=%s duration=%d.%ds rows=%d name=%s-worker version=v%d.%d.%d commit=%s token_count=%d max_tokens=%s`, ts, g.host(), g.n(1, 9), g.n(0, 999), g.n(0, 100000), g.svc(), g.n(0, 3), g.n(0, 30), g.n(0, 20), g.str(hexChars, 40), g.n(10, 4000), g.pick("1024", "4096"))
	case 3:
		return fmt.Sprintf("%s ERROR [%s] java.lang.IllegalStateException: Connection pool exhausted (active=%d, idle=0, waiting=%d)\n\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:%d)\n\tat com.acme.%s.Repository.find(Repository.java:%d)", ts, g.svc(), g.n(10, 50), g.n(1, 300), g.n(100, 200), g.svc(), g.n(10, 400))
	case 4:
		return fmt.Sprintf(`%s kubelet[%d]: Warning BackOff pod/%s-%s-%s Back-off restarting failed container app in pod %s_prod(%s)`, ts, g.n(100, 9999), g.svc(), g.str(hexChars, 9), g.str("abcdefghjkmnpqrstvwxz2456789", 5), g.svc(), g.uuid())
	case 5:
		return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  labels:\n    app: %s\nspec:\n  replicas: %d\n  template:\n    spec:\n      containers:\n      - name: app\n        image: registry.acme.io/%s:%d.%d.%d\n        ports:\n        - containerPort: %d\n        env:\n        - name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: orders-db\n              key: password", g.svc(), g.svc(), g.n(1, 12), g.svc(), g.n(0, 3), g.n(0, 30), g.n(0, 9), g.n(1024, 9999))
	case 6:
		return fmt.Sprintf(`%s %s systemd[1]: Started %s.service in %d.%03ds (pid %d, mem %dM, cpu %d.%d%%)`, ts, g.pick("ip-10-0-1-23", "node-7", "worker-3"), g.svc(), g.n(0, 9), g.n(0, 999), g.n(100, 99999), g.n(10, 4096), g.n(0, 99), g.n(0, 9))
	case 7:
		return fmt.Sprintf(`level=info msg="batch done" batch_id=%d epoch_ms=%d offset=%d partition=%d topic=orders.v%d lag=%d elapsed=%dms request_id=req_%s`, g.rng.Int64N(9_000_000_000_000_000_000)+100, g.n(1_700_000_000, 1_800_000_000)*1000+g.n(0, 999), g.n(0, 99999999), g.n(0, 63), g.n(1, 3), g.n(0, 5000), g.n(1, 900), g.str(upperChars, 26))
	case 8:
		return fmt.Sprintf(`%s INFO deploy: rolled out %s %s -> %s (git %s) to %d/%d pods in %dm%ds; canary error rate %d.%02d%% p99=%dms`, ts, g.svc(), "v1."+fmt.Sprint(g.n(0, 40))+"."+fmt.Sprint(g.n(0, 9)), "v1."+fmt.Sprint(g.n(0, 40))+"."+fmt.Sprint(g.n(0, 9)), g.str(hexChars, 7), g.n(1, 20), 20, g.n(0, 9), g.n(0, 59), g.n(0, 3), g.n(0, 99), g.n(5, 3000))
	}
	return fmt.Sprintf(`%s WARN authn: token expired for session %s (issued %s, ttl 3600s); password policy v%d ok; secretName=orders-db user_agent="kube-probe/1.29" from %s`, ts, g.uuid(), g.ts(), g.n(1, 4), g.host())
}

func TestCorpus(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(20240501, 7))}
	r := newTest(t, nil)

	seededN, kinds := 0, map[string]int{}
	for i := 0; i < 260; i++ {
		line, vals, kind := g.seeded(i)
		kinds[kind] += len(vals)
		seededN += len(vals)
		out, _ := r.Redact(line)
		for _, v := range vals {
			if strings.Contains(out, v) {
				t.Errorf("leak of %s %q in\n%s", kind, v, out)
			}
		}
		if back := r.Restore(out); back != line {
			t.Errorf("round trip:\n got %q\nwant %q", back, line)
		}
	}

	var tokens, changed int
	for i := 0; i < 2500; i++ {
		line := g.ordinary(i)
		out, _ := r.Redact(line)
		if back := r.Restore(out); back != line {
			t.Errorf("round trip:\n got %q\nwant %q", back, line)
		}
		orig := strings.Fields(line)
		tokens += len(orig)
		if out == line {
			continue
		}
		left := map[string]int{}
		for _, f := range strings.Fields(out) {
			left[f]++
		}
		for _, f := range orig {
			if left[f] > 0 {
				left[f]--
			} else {
				changed++
			}
		}
		if testing.Verbose() && changed < 40 {
			t.Logf("false redaction: %q", out)
		}
	}
	rate := float64(changed) / float64(tokens)
	t.Logf("seeded values %d of %d kinds; ordinary tokens %d, falsely redacted %d (%.3f%%)", seededN, len(kinds), tokens, changed, 100*rate)
	if seededN < 200 || len(kinds) < 15 {
		t.Errorf("corpus too small: %d values, %d kinds", seededN, len(kinds))
	}
	if rate > 0.02 {
		t.Errorf("false redaction rate %.3f%% > 2%%", 100*rate)
	}
}
