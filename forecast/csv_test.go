package forecast

import (
	"bufio"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func ms(s string) int64 {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []telemetry.Point
	}{
		{
			name: "nab with header",
			in:   "timestamp,value\n2014-07-01 00:00:00,10844\n2014-07-01 00:30:00,8127\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 10844}, {T: ms("2014-07-01 00:30:00"), V: 8127}},
		},
		{
			name: "no header, crlf, blank lines, quotes",
			in:   "\"2014-07-01 00:00:00\",1.5\r\n\r\n2014-07-01 00:05:00,\"2\"\r\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 1.5}, {T: ms("2014-07-01 00:05:00"), V: 2}},
		},
		{
			name: "rfc3339 and unix seconds and millis",
			in:   "2014-07-01T00:00:00Z,1\n1404173100,2\n1404173400000,3\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 1}, {T: ms("2014-07-01 00:05:00"), V: 2}, {T: ms("2014-07-01 00:10:00"), V: 3}},
		},
		{
			name: "columns chosen by the header's names",
			in:   "host,value,timestamp,note\na,1,2014-07-01 00:00:00,x\nb,2,2014-07-01 00:05:00,\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 1}, {T: ms("2014-07-01 00:05:00"), V: 2}},
		},
		{
			name: "two named columns, value first",
			in:   "Value,Time\n1,2014-07-01 00:00:00\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 1}},
		},
		{
			name: "extra columns declared by an unnamed header are kept apart",
			in:   "a,b,c\n2014-07-01 00:00:00,1,x\n2014-07-01 00:05:00,2,y\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 1}, {T: ms("2014-07-01 00:05:00"), V: 2}},
		},
		{
			name: "byte order mark",
			in:   "\ufefftimestamp,value\n2014-07-01 00:00:00,7\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 7}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadCSVWith(strings.NewReader(tc.in), DefaultCSVOptions())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("point %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
		max            int
	}{
		{name: "empty", in: "", want: "no data rows"},
		{name: "header only", in: "timestamp,value\n", want: "no data rows"},
		{name: "one column", in: "2014-07-01 00:00:00\n", want: "line 1: want timestamp,value"},
		{name: "bad value", in: "t,v\n2014-07-01 00:00:00,abc\n", want: `line 2: value "abc"`},
		{name: "NaN value", in: "2014-07-01 00:00:00,NaN\n", want: "line 1: value"},
		{name: "bad time", in: "t,v\n2014-07-01 00:00:00,1\nyesterday,2\n", want: `line 3: timestamp "yesterday"`},
		{name: "second header", in: "t,v\n2014-07-01 00:00:00,1\nt,v\n", want: "line 3"},
		{name: "too many rows", in: "1,1\n2,2\n3,3\n", max: 2, want: "more than 2 rows"},
		{name: "long line", in: strings.Repeat("x", maxCSVLine+10), want: "longer than"},
		{
			name: "step back",
			in:   "timestamp,value\n2014-07-01 09:30:00,1\n\n2014-07-01 09:00:00,2\n",
			want: "line 4: timestamp 2014-07-01 09:00:00 is not after the previous row's 2014-07-01 09:30:00 (line 2); rows must be in time order",
		},
		{
			name: "repeated timestamp",
			in:   "2014-07-01 09:00:00,1\n2014-07-01T09:00:00Z,2\n",
			want: "line 2: timestamp 2014-07-01T09:00:00Z is not after the previous row's 2014-07-01 09:00:00 (line 1)",
		},
		{
			name: "extra field",
			in:   "timestamp,value\n2014-07-02 09:30:00,17310\n2014-07-02 10:00:00,17311,999\n",
			want: "line 3: 3 fields where the header (line 1) has 2",
		},
		{
			name: "missing field",
			in:   "time,value,host\n2014-07-02 09:30:00,1,a\n2014-07-02 10:00:00,2\n",
			want: "line 3: 2 fields where the header (line 1) has 3",
		},
		{
			name: "trailing comma without a header",
			in:   "2014-07-02 09:30:00,1\n2014-07-02 10:00:00,2,\n",
			want: "line 2: 3 fields where the first row (line 1) has 2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSVWith(strings.NewReader(tc.in), CSVOptions{MaxRows: tc.max})
			if !errors.Is(err, ErrBadCSV) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrBadCSV mentioning %q", err, tc.want)
			}
		})
	}
}

// TestReadCSVUnordered covers the benchmarks' reader: NAB's repeated and
// stepped-back rows are sorted and the last of a time wins, but a row of
// the wrong shape is still an error.
func TestReadCSVUnordered(t *testing.T) {
	in := "t,v\n2014-01-07 02:55:00,1\n2014-01-07 02:00:00,2\n2014-01-07 03:00:00,3\n2014-01-07 03:00:00,4\n"
	want := []telemetry.Point{{T: ms("2014-01-07 02:00:00"), V: 2}, {T: ms("2014-01-07 02:55:00"), V: 1}, {T: ms("2014-01-07 03:00:00"), V: 4}}
	got, err := ReadCSV(strings.NewReader(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := ReadCSVWith(strings.NewReader(in), DefaultCSVOptions()); !errors.Is(err, ErrBadCSV) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("strict read: err %v, want ErrBadCSV at line 3", err)
	}
	_, err = ReadCSV(strings.NewReader("t,v\n2014-01-07 02:55:00,1,2\n"), 0)
	if !errors.Is(err, ErrBadCSV) || !strings.Contains(err.Error(), "line 2: 3 fields") {
		t.Fatalf("unordered read of a 3-field row: err %v", err)
	}
}

// dataLines counts the non-blank lines of a CSV text as ReadCSVWith sees
// them.
func dataLines(in string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(in))
	sc.Buffer(nil, maxCSVLine)
	for sc.Scan() {
		if strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff")) != "" {
			n++
		}
	}
	return n
}

func FuzzReadCSV(f *testing.F) {
	f.Add("timestamp,value\n2014-07-01 00:00:00,10844\n2014-07-01 00:30:00,8127\n")
	f.Add("1404173100,2\n1404173400000,3\n")
	f.Add("2014-07-01T00:00:00Z,1\n\"2014-07-01T00:05:00Z\",\"2\"\n")
	f.Add("a,b\n1e308,1e308\n-1e16,0\n")
	f.Add("timestamp,value\n2014-07-01 09:30:00,1\n2014-07-01 09:00:00,2\n")
	f.Add("timestamp,value\n2014-07-01 09:30:00,1\n2014-07-01 09:30:00,2\n")
	f.Add("timestamp,value\n2014-07-02 09:30:00,17310\n2014-07-02 10:00:00,17311,999\n")
	f.Add("value,note,timestamp\n1,,2014-07-02 09:30:00\n2,x,2014-07-02 10:00:00\n")
	f.Fuzz(func(t *testing.T, in string) {
		strict, serr := ReadCSVWith(strings.NewReader(in), CSVOptions{MaxRows: 1000})
		loose, lerr := ReadCSVWith(strings.NewReader(in), CSVOptions{MaxRows: 1000, Unordered: true})
		for _, pts := range [][]telemetry.Point{strict, loose} {
			if pts == nil {
				continue
			}
			if len(pts) == 0 || len(pts) > 1000 {
				t.Fatalf("%d points without an error", len(pts))
			}
			for i := 1; i < len(pts); i++ {
				if pts[i].T <= pts[i-1].T {
					t.Fatalf("timestamps not increasing at %d", i)
				}
			}
		}
		if serr != nil && !errors.Is(serr, ErrBadCSV) {
			t.Fatalf("strict error %v is not ErrBadCSV", serr)
		}
		if serr == nil {
			// No row lost: every non-blank line but a header is a point,
			// and the tolerant reader, with nothing to mend, agrees.
			if d := dataLines(in) - len(strict); d != 0 && d != 1 {
				t.Fatalf("%d non-blank lines gave %d points", dataLines(in), len(strict))
			}
			if lerr != nil || !slices.Equal(strict, loose) {
				t.Fatalf("strict read %v, unordered read %v (%v)", strict, loose, lerr)
			}
		}
	})
}

// BenchmarkReadCSV reads a NAB-sized file (about 10,000 rows).
func BenchmarkReadCSV(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("timestamp,value\n")
	t0 := time.Date(2014, 7, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10_000 {
		sb.WriteString(t0.Add(time.Duration(i) * 5 * time.Minute).Format("2006-01-02 15:04:05"))
		sb.WriteString(",")
		sb.WriteString(strconv.Itoa(10_000 + i%977))
		sb.WriteString("\n")
	}
	in := sb.String()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadCSVWith(strings.NewReader(in), DefaultCSVOptions()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadCSVErrUnordered: only time-order problems match ErrUnordered,
// and they still match ErrBadCSV.
func TestReadCSVErrUnordered(t *testing.T) {
	for _, tc := range []struct {
		body      string
		unordered bool
	}{
		{"timestamp,value\n2014-07-01 09:00:00,1\n2014-07-01 08:00:00,2\n", true},
		{"timestamp,value\n2014-07-01 09:00:00,1\n2014-07-01 09:00:00,2\n", true},
		{"timestamp,value\n2014-07-01 09:00:00,1\n2014-07-01 10:00:00,x\n", false},
		{"timestamp,value\n2014-07-01 09:00:00,1\n2014-07-01 10:00:00,2,3\n", false},
	} {
		_, err := ReadCSVWith(strings.NewReader(tc.body), DefaultCSVOptions())
		if !errors.Is(err, ErrBadCSV) {
			t.Errorf("%q: err %v, want ErrBadCSV", tc.body, err)
		}
		if got := errors.Is(err, ErrUnordered); got != tc.unordered {
			t.Errorf("%q: errors.Is(ErrUnordered) = %v, want %v (err %v)", tc.body, got, tc.unordered, err)
		}
	}
}
