package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func FuzzRedact(f *testing.F) {
	g := gen{rand.New(rand.NewPCG(5, 5))}
	for i := 0; i < 26; i++ {
		line, _, _ := g.seeded(i)
		f.Add(line)
		f.Add(g.ordinary(i))
	}
	f.Add("literal <EMAIL_1> a@b.io <EMAIL_")
	f.Add("password=\"unterminated")
	f.Add("-----BEGIN PRIVATE KEY-----\nabc")
	f.Add("+1 (415 555-2671 ((((")
	f.Fuzz(func(t *testing.T, in string) {
		r := newTest(t, func(o *Options) { o.RedactIPs = true })
		out, fs := r.Redact(in)
		if back := r.Restore(out); back != in {
			t.Fatalf("round trip:\n in %q\nout %q\nback %q", in, out, back)
		}
		// Only the kept text matters: a value may by chance spell part of a
		// placeholder, so cut the placeholders out before looking.
		kept := out
		for _, f := range fs {
			kept = strings.ReplaceAll(kept, f.Placeholder, "\x00")
		}
		for _, f := range fs {
			if f.Start < 0 || f.End > len(in) || f.Start >= f.End {
				t.Fatalf("bad finding %+v", f)
			}
			v := in[f.Start:f.End]
			if len(v) >= DefaultOptions().MinRecurrence && !strings.Contains(v, "\x00") && strings.Contains(kept, v) {
				t.Fatalf("detected value %q still in %q", v, out)
			}
		}
	})
}

func BenchmarkRedact(b *testing.B) {
	g := gen{rand.New(rand.NewPCG(1, 1))}
	var sb strings.Builder
	for i := 0; sb.Len() < 1<<20; i++ {
		if i%20 == 0 {
			line, _, _ := g.seeded(i / 20)
			sb.WriteString(line)
		} else {
			sb.WriteString(g.ordinary(i))
		}
		sb.WriteByte('\n')
	}
	lines := strings.Split(sb.String(), "\n")
	for _, ips := range []bool{false, true} {
		name := "default"
		if ips {
			name = "ips"
		}
		b.Run(name, func(b *testing.B) {
			r := newTest(b, func(o *Options) { o.RedactIPs = ips; o.LogSize = 0 })
			b.SetBytes(int64(sb.Len()))
			for b.Loop() {
				for _, l := range lines {
					r.Redact(l)
				}
			}
		})
	}
}
