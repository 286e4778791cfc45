package logparse_test

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilops/vigil/logparse"
	"github.com/vigilops/vigil/telemetry"
)

func ExampleParser_Parse() {
	p, err := logparse.New(logparse.DefaultOptions())
	if err != nil {
		panic(err)
	}
	now := time.Date(2024, time.October, 10, 14, 0, 0, 0, time.UTC)
	for _, line := range []string{
		`{"time":"2024-10-10T13:55:36Z","level":"WARN","msg":"slow upstream","upstream":"payments"}`,
		`[2024-10-10 13:55:36.123] [WARN] [RequestHandler] Request took 1532ms`,
		`10.0.0.7 - - [10/Oct/2024:13:55:36 +0000] "GET /api/v1/users/42 HTTP/1.1" 503 0 "-" "curl/8.5.0"`,
	} {
		rec := telemetry.LogRecord{Raw: line}
		p.Parse(&rec, now)
		fmt.Printf("%s %s %s %q\n", rec.Format, rec.Time.Format(time.RFC3339), rec.Level, rec.Message)
	}
	// Output:
	// json 2024-10-10T13:55:36Z warn "slow upstream"
	// bracketed 2024-10-10T13:55:36Z warn "Request took 1532ms"
	// access_combined 2024-10-10T13:55:36Z error "GET /api/v1/users/42 HTTP/1.1 503"
}

func ExampleJoiner() {
	j, err := logparse.NewJoiner(logparse.DefaultJoinOptions())
	if err != nil {
		panic(err)
	}
	now := time.Date(2024, time.October, 10, 14, 0, 0, 0, time.UTC)
	var out []telemetry.LogRecord
	for _, line := range []string{
		"2024-10-10 13:55:36 ERROR [main] c.e.Shop - order failed",
		"java.lang.IllegalStateException: card declined",
		"\tat c.e.Shop.pay(Shop.java:42)",
		"2024-10-10 13:55:37 INFO [main] c.e.Shop - next order",
	} {
		out = append(out, j.Push(telemetry.LogRecord{Raw: line}, now)...)
	}
	// A quiet stream still delivers its last entry once Timeout has passed.
	out = append(out, j.Flush(now.Add(logparse.DefaultJoinTimeout))...)
	for _, rec := range out {
		fmt.Printf("%q %s\n", rec.Message, rec.Fields[logparse.FieldExceptionType])
	}
	// Output:
	// "order failed" java.lang.IllegalStateException
	// "next order"
}

func ExamplePatternProposerFunc() {
	// An LLM-backed proposer would send PatternSyntax and the samples to a
	// model; this one knows the answer.
	proposer := logparse.PatternProposerFunc(func(ctx context.Context, samples []string) (string, error) {
		return "%{time:02.01.2006 15:04:05} | %{level} | %{component} | %{message}", nil
	})
	p, err := logparse.New(logparse.Options{Proposer: proposer})
	if err != nil {
		panic(err)
	}
	var samples []string
	for i := 0; i < 10; i++ {
		samples = append(samples, fmt.Sprintf("10.10.2024 13:55:%02d | INFO | billing | invoice %d sent", i, i))
	}
	l, err := p.Learn(context.Background(), "billing", samples)
	if err != nil {
		panic(err)
	}
	rec := telemetry.LogRecord{Raw: "10.10.2024 13:56:00 | ERROR | billing | invoice 7 bounced", Service: "billing"}
	p.Parse(&rec, time.Time{})
	fmt.Println(l.Origin, rec.Format, rec.Time.Format(time.RFC3339), rec.Level, rec.Fields["component"], rec.Message)
	// Output:
	// proposer learned 2024-10-10T13:56:00Z error billing invoice 7 bounced
}
