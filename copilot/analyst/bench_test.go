package analyst

import (
	"fmt"
	"testing"
)

// mixedLines returns n lines, mostly ordinary with a failure now and then,
// as a busy service's log looks.
func mixedLines(n int) []string {
	forms := []string{
		"2024-03-11T08:14:%02d.118Z INFO  checkout  order %d placed by user 42",
		"2024-03-11T08:14:%02d.402Z DEBUG checkout  cache hit key=cart:%d",
		`10.2.0.17 - - [11/Mar/2024:08:14:%02d +0000] "GET /api/items/%d HTTP/1.1" 200 157 "-" "curl/8.5.0"`,
		`{"time":"2024-03-11T08:14:%02dZ","level":"warn","msg":"slow query","ms":%d}`,
		"2024-03-11T08:14:%02d.991Z ERROR checkout  dial tcp 10.0.3.7:5432: connect: connection refused (attempt %d)",
		"level=error ts=2024-03-11T08:14:%02dZ msg=\"request failed\" status=503 id=%d",
		"2024-03-11T08:14:%02d ERROR java.lang.NullPointerException at Cart.total(Cart.java:%d)",
	}
	out := make([]string, n)
	for i := range out {
		form := forms[i%3]
		if i%10 == 9 {
			form = forms[3+(i/10)%4]
		}
		out[i] = fmt.Sprintf(form, i%60, i)
	}
	return out
}

func BenchmarkExplain(b *testing.B) {
	a := newTestAnalyst(b)
	lines := mixedLines(10_000)
	b.ReportAllocs()
	for b.Loop() {
		a.Explain(lines)
	}
}
