package logparse

import (
	"testing"
	"time"
)

func TestCompactTimeAt(t *testing.T) {
	ref := time.Date(2024, time.October, 10, 14, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want string // RFC 3339 in UTC; "" means not a compact timestamp
		n    int
	}{
		{"081109 203615 148 INFO", "2008-11-09T20:36:15Z", 13},
		{"17/06/09 20:10:40 INFO", "2017-06-09T20:10:40Z", 17},
		{"03-17 16:13:38.811  1702", "2024-03-17T16:13:38.811Z", 18},
		{"20171223-22:15:29:606|Step", "2017-12-23T22:15:29.606Z", 21},
		{"20171223-22:16:0:119|Step", "2017-12-23T22:16:00.119Z", 20},
		{"2005-06-03-15.42.50.675872 R02", "2005-06-03T15:42:50.675872Z", 26},
		{"1117838570 2005.06.03", "2005-06-03T22:42:50Z", 10},
		{"134681 node-246", "", 0},
		{"30002312|x", "", 0},
		{"1234567890123456 x", "", 0},
		{"03-17x16:13:38", "", 0},
	}
	for _, c := range cases {
		got, n, ok := compactTimeAt(c.in, ref, time.UTC)
		if c.want == "" {
			if ok {
				t.Errorf("%q: read %v (%d bytes), want no timestamp", c.in, got, n)
			}
			continue
		}
		if !ok || n != c.n || got.Format(time.RFC3339Nano) != c.want {
			t.Errorf("%q: %v %d %v, want %s %d", c.in, got.Format(time.RFC3339Nano), n, ok, c.want, c.n)
		}
	}
}
