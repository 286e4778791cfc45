package sim

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// formats describes each service's native line format. Stack trace and
// continuation lines are checked separately.
var formats = map[string]*regexp.Regexp{
	"frontend": regexp.MustCompile(`^(\d{1,3}(\.\d{1,3}){3} - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "[A-Z]+ \S+ HTTP/[\d.]+" \d{3} \d+ "[^"]*" "[^"]*" rt=\d+\.\d{3} urt="[^"]*" rid=[0-9a-f]{32}` +
		`|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(error|warn|info|notice)\] \d+#\d+: .*)$`),
	"api-gateway": regexp.MustCompile(`^\{"level":"(info|warn|error)","ts":\d+\.\d+,"caller":"[^"]+","msg":"[^"]+".*\}$`),
	"catalog":     regexp.MustCompile(`^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"(INFO|WARN|ERROR)","msg":"[^"]+".*\}$`),
	"checkout":    regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR| WARN| INFO) 1 --- \[checkout\] \[[ \w#.-]{15}\] (\[[0-9a-f]{32}-[0-9a-f]{16}\] )?[\w.$]+ +: .+$`),
	"cart":        regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[[\w-]+\] (INFO |WARN |ERROR) [\w.]+ \[[0-9a-f]*\] - .+$`),
	"payments":    regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(info|warn|error) msg=("[^"]+"|\S+)( \w+=("([^"\\]|\\.)*"|\S+))*$`),
	"postgres":    regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] (\S+@shop )?(LOG|ERROR|FATAL|DETAIL|STATEMENT|PANIC):  .+|\t.+)$`),
	"redis":       regexp.MustCompile(`^\d+:[MC] \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} [*#.-] .+$`),
	"reports-cron": regexp.MustCompile(`^(<\d+>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z node-2 reports \d+ \S+ (-|\[[^]]+\]) .+` +
		`|<\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d node-2 \w+(\[\d+\])?: .+)$`),
}

var traceLine = regexp.MustCompile(`^(\t.+|Caused by: .+|[a-z][\w.]*\.[A-Z]\w*(\$\w+)?(Exception|Error)(: .*)?)$`)

func TestLogFormats(t *testing.T) {
	o := DefaultOptions()
	o.Start = evening
	o.LogScale = 1.5
	o.Faults = []Fault{
		{Scenario: ScenarioBadDeploy, Onset: evening.Add(10 * time.Minute)},
		{Scenario: ScenarioDBConnectionRefused, Onset: evening.Add(70 * time.Minute)},
		{Scenario: ScenarioNetworkPartition, Onset: evening.Add(100 * time.Minute)},
		{Scenario: ScenarioTrafficSurge, Onset: evening.Add(130 * time.Minute)},
		{Scenario: ScenarioRunawayCron, Onset: evening.Add(170 * time.Minute)},
		{Scenario: ScenarioPaymentProvider200, Onset: evening.Add(240 * time.Minute)},
	}
	b := run(t, o, evening.Add(5*time.Hour))
	perSvc := map[string]int{}
	for _, l := range b.Logs {
		perSvc[l.Service]++
		if l.Labels.Get("service") != l.Service || l.Labels.Get("source") == "" {
			t.Fatalf("labels %s on a %s line", l.Labels, l.Service)
		}
		if l.Format != "" || l.Message != "" || l.Fields != nil || l.Level != 0 {
			t.Fatalf("parsed fields filled in: %+v", l)
		}
		if strings.ContainsAny(l.Raw, "\n\r") {
			t.Fatalf("record spans lines: %q", l.Raw)
		}
		re := formats[l.Service]
		if re == nil {
			t.Fatalf("line from unexpected service %q", l.Service)
		}
		if !re.MatchString(l.Raw) && !((l.Service == "checkout" || l.Service == "cart") && traceLine.MatchString(l.Raw)) {
			t.Errorf("%s line does not match its format: %q", l.Service, l.Raw)
		}
		if l.Service == "api-gateway" || l.Service == "catalog" {
			var v map[string]any
			if err := json.Unmarshal([]byte(l.Raw), &v); err != nil {
				t.Errorf("%s line is not JSON: %v: %q", l.Service, err, l.Raw)
			}
		}
	}
	for svc := range formats {
		if perSvc[svc] == 0 {
			t.Errorf("no %s lines", svc)
		}
	}
}

// TestTraceFollowsRequest: a checkout's trace id shows up in every service
// it passed through.
func TestTraceFollowsRequest(t *testing.T) {
	o := DefaultOptions()
	o.Start = evening
	b := newSim(t, o).Advance(evening.Add(30 * time.Minute))
	var trace string
	for _, l := range b.Logs {
		if l.Service == "payments" && strings.Contains(l.Raw, `msg="charge succeeded"`) {
			trace = l.Raw[strings.Index(l.Raw, "trace_id=")+len("trace_id="):]
			break
		}
	}
	if len(trace) != 32 {
		t.Fatalf("no successful charge with a trace id (%q)", trace)
	}
	for _, svc := range []string{"frontend", "api-gateway", "checkout", "cart", "payments"} {
		if countContaining(logsOf(&b, svc, evening, evening.Add(31*time.Minute)), trace) == 0 {
			t.Errorf("trace %s not in %s's logs", trace, svc)
		}
	}
}

func TestLogVolume(t *testing.T) {
	o := DefaultOptions()
	b := newSim(t, o).Advance(o.Start.Add(24 * time.Hour))
	// A weekday is busier than the weekly average; 1-3 million lines a
	// week is 140-430 thousand a day on average.
	if n := len(b.Logs); n < 150_000 || n > 450_000 {
		t.Errorf("%d lines on a Monday", n)
	}
	var info, other int
	for _, l := range b.Logs {
		low := strings.ToLower(l.Raw)
		if strings.Contains(low, "error") || strings.Contains(low, "warn") || strings.Contains(low, "fatal") {
			other++
		} else {
			info++
		}
	}
	if share := float64(other) / float64(info+other); share > 0.05 || other == 0 {
		t.Errorf("%.2f%% of a clean day's lines mention warnings or errors", 100*share)
	}
}

// TestGoldenFirstMinute keeps the first minute of each service's lines in
// testdata so that format changes show in review. Run with -update to
// rewrite them.
func TestGoldenFirstMinute(t *testing.T) {
	o := DefaultOptions()
	o.Start = evening
	o.LogScale = 3
	b := newSim(t, o).Advance(evening.Add(time.Hour))
	first := map[string]time.Time{}
	got := map[string][]string{}
	for _, l := range b.Logs {
		f, ok := first[l.Service]
		if !ok {
			f = l.Time
			first[l.Service] = f
		}
		if l.Time.Before(f.Add(time.Minute)) {
			got[l.Service] = append(got[l.Service], l.Raw)
		}
	}
	for svc := range formats {
		t.Run(svc, func(t *testing.T) {
			path := filepath.Join("testdata", "golden", svc+".log")
			text := strings.Join(got[svc], "\n") + "\n"
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenFirstMinute -update)", err)
			}
			if string(want) != text {
				t.Errorf("first minute of %s changed; run with -update and review the diff.\ngot:\n%s", svc, text)
			}
		})
	}
}
