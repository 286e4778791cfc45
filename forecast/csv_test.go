package forecast

import (
	"errors"
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
			name: "no header, crlf, blank lines, extra column, quotes",
			in:   "\"2014-07-01 00:00:00\",1.5,x\r\n\r\n2014-07-01 00:05:00,\"2\"\r\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 1.5}, {T: ms("2014-07-01 00:05:00"), V: 2}},
		},
		{
			name: "rfc3339 and unix seconds and millis",
			in:   "2014-07-01T00:00:00Z,1\n1404173100,2\n1404173400000,3\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 1}, {T: ms("2014-07-01 00:05:00"), V: 2}, {T: ms("2014-07-01 00:10:00"), V: 3}},
		},
		{
			name: "repeated and out-of-order rows are sorted, the last of a time wins",
			in:   "t,v\n2014-01-07 02:55:00,1\n2014-01-07 02:00:00,2\n2014-01-07 03:00:00,3\n2014-01-07 03:00:00,4\n",
			want: []telemetry.Point{{T: ms("2014-01-07 02:00:00"), V: 2}, {T: ms("2014-01-07 02:55:00"), V: 1}, {T: ms("2014-01-07 03:00:00"), V: 4}},
		},
		{
			name: "byte order mark",
			in:   "\ufefftimestamp,value\n2014-07-01 00:00:00,7\n",
			want: []telemetry.Point{{T: ms("2014-07-01 00:00:00"), V: 7}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadCSV(strings.NewReader(tc.in), 0)
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.in), tc.max)
			if !errors.Is(err, ErrBadCSV) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrBadCSV mentioning %q", err, tc.want)
			}
		})
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add("timestamp,value\n2014-07-01 00:00:00,10844\n2014-07-01 00:30:00,8127\n")
	f.Add("1404173100,2\n1404173400000,3\n")
	f.Add("2014-07-01T00:00:00Z,1\n\"2014-07-01T00:05:00Z\",\"2\"\n")
	f.Add("a,b\n1e308,1e308\n-1e16,0\n")
	f.Fuzz(func(t *testing.T, in string) {
		pts, err := ReadCSV(strings.NewReader(in), 1000)
		if err != nil {
			return
		}
		if len(pts) == 0 || len(pts) > 1000 {
			t.Fatalf("%d points without an error", len(pts))
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].T <= pts[i-1].T {
				t.Fatalf("timestamps not increasing at %d", i)
			}
		}
	})
}
