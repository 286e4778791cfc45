package amapi

import (
	"errors"
	"testing"

	"github.com/vigilops/vigil/correlate/silence"
)

// FuzzDecodeSilence: any body decodes to a silence or to ErrInvalid.
func FuzzDecodeSilence(f *testing.F) {
	f.Add(`{"matchers":[{"name":"alertname","value":"X","isRegex":false,"isEqual":true}],"startsAt":"2024-05-01T10:00:00Z","endsAt":"2024-05-01T11:00:00Z","createdBy":"a","comment":"c"}`)
	f.Add(`{"id":"x","matchers":[{"name":"a","value":"(","isRegex":true}],"startsAt":"2024-05-01T10:00:00Z","endsAt":"2024-05-01T11:00:00Z","createdBy":"a","comment":"c"}`)
	f.Add(`{"matchers":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		s, err := DecodeSilence([]byte(body))
		if err != nil {
			if !errors.Is(err, silence.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		for _, m := range s.Matchers {
			if m == nil {
				t.Fatal("nil matcher decoded")
			}
			m.Matches("x")
		}
	})
}
