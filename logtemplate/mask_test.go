package logtemplate

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// maskLine returns the masked tokens of a line, joined by spaces, and its
// variables.
func maskLine(line string) (string, []string) {
	s := getScratch()
	defer putScratch(s)
	s.mask(line, DefaultOptions().MaxTokens)
	var ms, vs []string
	for i := range s.tokens {
		ms = append(ms, string(s.masked(i)))
		for _, v := range s.vars(i) {
			vs = append(vs, s.msg[v.start:v.end])
		}
	}
	return strings.Join(ms, " "), vs
}

func TestMask(t *testing.T) {
	tests := []struct {
		name, in, want string
		vars           []string
	}{
		{"words stay", "Starting the TrustedInstaller main loop.", "Starting the TrustedInstaller main loop.", nil},
		{"numbers and ids", "PacketResponder 1 for block blk_38865049064139660 terminating",
			"PacketResponder <*> for block <*> terminating", []string{"1", "blk_38865049064139660"}},
		{"ip:port and paths", "blk_-6952295868487656571 10.251.73.220:50010 /10.251.30.6:33145 /10.251.90.64:",
			"<*> <*>:<*> <*>:<*> <*>:", []string{"blk_-6952295868487656571", "10.251.73.220", "50010", "/10.251.30.6", "33145", "/10.251.90.64"}},
		{"word.number", "generating core.2275", "generating core.<*>", []string{"2275"}},
		{"key=value, value only", "uid=0 tty=ssh ruser= rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root",
			// A plain word is masked by the miner when it varies, not by a
			// vocabulary: user=root stays literal here.
			"uid=<*> tty=ssh ruser= rhost=<*> user=root", []string{"0", "5.36.59.76.dynamic-dsl-ip.omantel.net.om"}},
		{"decimals and punctuation", "Finished task 3.0 in stage 0.0 (TID 3). 2703 bytes",
			"Finished task <*> in stage <*> (TID <*>). <*> bytes", []string{"3.0", "0.0", "3", "2703"}},
		{"uuid and path in parens", "instance 96abccce-8d1f-4e07-b6d1-4b2ab87e23b4 at (/var/lib/nova/_base/a489c868f0):",
			"instance <*> at (<*>):", []string{"96abccce-8d1f-4e07-b6d1-4b2ab87e23b4", "/var/lib/nova/_base/a489c868f0"}},
		{"urls", "hdfs://10.10.34.11:9000/logs/a.log:21876+7292 see http://wiki.apache.org/hadoop/NoRoute",
			"hdfs://<*> see http://wiki.apache.org/hadoop/NoRoute", []string{"10.10.34.11:9000/logs/a.log:21876+7292"}},
		{"host and timestamp", "from 24.54.76.216 (24-54-76-216.bflony.adelphia.net) at Fri Jun 17 07:07:00 2005",
			"from <*> (<*>) at <*> <*> <*> <*>:<*>:<*> <*>",
			[]string{"24.54.76.216", "24-54-76-216.bflony.adelphia.net", "Fri", "Jun", "17", "07", "07", "00", "2005"}},
		{"month word without a clock stays", "May I have June", "May I have June", nil},
		{"word with a value is one", "headroom=<memory:10240, vCores:-17>", "headroom=<memory:<*>, vCores:<*>", []string{"10240", "-17>"}},
		{"mac, ipv6", "chip FF:F2:9F:16:E2:23:00:0D:60:E9:1D:DC ip=10.0.0.151 fe80::1",
			"chip <*> ip=<*> <*>", []string{"FF:F2:9F:16:E2:23:00:0D:60:E9:1D:DC", "10.0.0.151", "fe80::1"}},
		{"sizes and durations", "size 5.2 KB, took 50ms 1.5s 10KB 3.5 MiB",
			"size <*> KB, took <*> <*> <*> <*> MiB", []string{"5.2", "50ms", "1.5s", "10KB", "3.5"}},
		{"email, iso time, literals", "mail bob.smith@example.com at 2017-05-16T05:00:00.123Z ready=true mode=null",
			"mail <*> at <*> ready=<*> mode=<*>", []string{"bob.smith@example.com", "2017-05-16T05:00:00.123Z", "true", "null"}},
		{"hosts", "node-129 msra-sa-41/10.190.173.170:9000 proxy.example.com:5070 C:\\Windows\\x",
			"node-<*> <*>/<*>:<*> <*>:<*> <*>", []string{"129", "msra-sa-41", "10.190.173.170", "9000", "proxy.example.com", "5070", "C:\\Windows\\x"}},
		{"hex and versions", "0x0b85eee0, ffffffff storage234 v1.0.0 ee0",
			"<*>, <*> storage234 <*> ee0", []string{"0x0b85eee0", "ffffffff", "v1.0.0"}},
		{"java class is not a host", "at com.example.Foo.bar:42", "at com.example.Foo.bar:<*>", []string{"42"}},
		{"pair of words with slash", "Input/output error 4K/8K", "Input/output error <*>/<*>", []string{"4K", "8K"}},
		{"literal wildcard is a parameter", "a<*>b x", "<*> x", []string{"a<*>b"}},
		{"white space", "  a\t\tb  ", "a b", nil},
		{"empty", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, vars := maskLine(tt.in)
			if got != tt.want {
				t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !slices.Equal(vars, tt.vars) {
				t.Errorf("mask(%q) vars = %q, want %q", tt.in, vars, tt.vars)
			}
		})
	}
}

func TestMaskLongToken(t *testing.T) {
	blob := strings.Repeat("QUJD", 200)
	got, vars := maskLine("payload " + blob + " end")
	if got != "payload <*> end" || len(vars) != 1 || vars[0] != blob {
		t.Errorf("mask = %q, %d vars", got, len(vars))
	}
}

func TestMaskMaxTokens(t *testing.T) {
	s := getScratch()
	defer putScratch(s)
	s.mask("a b c d e f  ", 3)
	if len(s.tokens) != 3 {
		t.Fatalf("tokens = %d, want 3", len(s.tokens))
	}
	if got := s.raw(2); got != "c d e f" {
		t.Errorf("tail = %q, want %q", got, "c d e f")
	}
	if !s.tokens[2].allVar {
		t.Error("tail is not a parameter")
	}
}

// FuzzMasker checks the masker's invariants on any input: no panic, one
// "<*>" per variable, variables inside their token and in order, and the
// masked token equal to the raw token with each variable replaced.
func FuzzMasker(f *testing.F) {
	for _, s := range []string{
		"PacketResponder 1 for block blk_38865049064139660 terminating",
		"10.251.73.220:50010 /10.251.30.6:33145 uid=0 user=root",
		"hdfs://10.10.34.11:9000/a at Fri Jun 17 07:07:00 2005 <*> <<*>> *>",
		"headroom=<memory:10240, vCores:-17> fe80::1 a@b.co 2017-05-16T05:00:00Z",
		"\x00\xff é 𝄞 -- ..1 +-+ _-1 v1.0 ./a ../b c:\\d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s := getScratch()
		defer putScratch(s)
		s.mask(line, 16)
		if len(s.tokens) > 16 {
			t.Fatalf("%d tokens > 16", len(s.tokens))
		}
		prevEnd := int32(0)
		for i := range s.tokens {
			tk := &s.tokens[i]
			if tk.off < prevEnd || tk.end <= tk.off || int(tk.end) > len(line) {
				t.Fatalf("token %d bounds [%d,%d) after %d", i, tk.off, tk.end, prevEnd)
			}
			prevEnd = tk.end
			m := string(s.masked(i))
			vars := s.vars(i)
			if n := strings.Count(m, wildcard); n != len(vars) {
				t.Fatalf("token %q masked %q: %d <*> for %d variables", s.raw(i), m, n, len(vars))
			}
			// Rebuild the raw token from the masked form.
			var b strings.Builder
			rest, pos := m, tk.off
			for _, v := range vars {
				if v.start < pos || v.end < v.start || v.end > tk.end {
					t.Fatalf("token %q: variable [%d,%d) out of order", s.raw(i), v.start, v.end)
				}
				k := strings.Index(rest, wildcard)
				b.WriteString(rest[:k])
				b.WriteString(line[v.start:v.end])
				rest = rest[k+len(wildcard):]
				pos = v.end
			}
			b.WriteString(rest)
			if b.String() != s.raw(i) {
				t.Fatalf("token %q: masked %q does not rebuild it (%q)", s.raw(i), m, b.String())
			}
		}
		if utf8.ValidString(line) && strings.TrimSpace(line) == "" && len(s.tokens) != 0 {
			t.Fatalf("blank line gave %d tokens", len(s.tokens))
		}
	})
}
