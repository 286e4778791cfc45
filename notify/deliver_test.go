package notify

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	ref := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"abc", 0, false},
		{"99999999999999999999999", time.Hour, true},
		{"86400", time.Hour, true},
		{"Wed, 21 Oct 2015 07:28:30 GMT", 30 * time.Second, true},
		{"Wed, 21 Oct 2015 07:27:00 GMT", 0, true},
		{"Thu, 22 Oct 2015 07:28:00 GMT", time.Hour, true},
		{"Wednesday, 21-Oct-15 07:29:00 GMT", time.Minute, true},
		{"Wed, 99 Oct 2015 07:28:00 GMT", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.in, ref)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestCheckResponse(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		header    http.Header
		wantErr   bool
		wantRetry bool
		wantAfter time.Duration
	}{
		{"ok", 200, nil, false, false, 0},
		{"accepted", 202, nil, false, false, 0},
		{"bad request", 400, nil, true, false, 0},
		{"forbidden", 403, nil, true, false, 0},
		{"not found", 404, nil, true, false, 0},
		{"too many", 429, http.Header{"Retry-After": {"7"}}, true, true, 7 * time.Second},
		{"too many no header", 429, nil, true, true, 0},
		{"unavailable dated", 503, http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:10 GMT"}, "Date": {"Wed, 21 Oct 2015 07:28:00 GMT"}}, true, true, 10 * time.Second},
		{"internal", 500, http.Header{"Retry-After": {"7"}}, true, true, 0},
		{"redirect", 302, nil, true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			resp := &http.Response{StatusCode: tt.code, Header: h, Body: io.NopCloser(strings.NewReader(strings.Repeat("x", 2000)))}
			err := CheckResponse(resp)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var de *DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not a *DeliveryError", err)
			}
			if de.StatusCode != tt.code || de.Retryable != tt.wantRetry || de.RetryAfter != tt.wantAfter {
				t.Errorf("got code %d retry %v after %v; want %d %v %v", de.StatusCode, de.Retryable, de.RetryAfter, tt.code, tt.wantRetry, tt.wantAfter)
			}
			if len(err.Error()) > maxErrorBody+64 {
				t.Errorf("error text not bounded: %d bytes", len(err.Error()))
			}
		})
	}
}
