package bus

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestHandle(t *testing.T) {
	type sample struct{ v float64 }
	tests := []struct {
		name      string
		value     any
		wantBatch []sample
		wantErr   error
		wantText  string
	}{
		{"batch", []sample{{1}, {2}}, []sample{{1}, {2}}, nil, ""},
		{"empty batch", []sample{}, []sample{}, nil, ""},
		{"nil slice of the type", []sample(nil), nil, nil, ""},
		{"element instead of batch", sample{1}, nil, ErrValueType, "carries bus.sample, handler wants []bus.sample"},
		{"other batch type", []string{"x"}, nil, ErrValueType, "carries []string"},
		{"nil value", nil, nil, ErrValueType, "carries <nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			h := Handle(func(_ context.Context, key string, batch []sample) error {
				called = true
				if key != "svc" {
					t.Errorf("key %q, want svc", key)
				}
				if len(batch) != len(tt.wantBatch) {
					t.Fatalf("batch %v, want %v", batch, tt.wantBatch)
				}
				for i := range batch {
					if batch[i] != tt.wantBatch[i] {
						t.Fatalf("batch %v, want %v", batch, tt.wantBatch)
					}
				}
				return nil
			})
			err := h(context.Background(), Message{Topic: TopicSamples, Key: "svc", Value: tt.value})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if called {
					t.Error("typed handler called on a mismatch")
				}
				if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), TopicSamples) {
					t.Errorf("error %q should name the topic and contain %q", err, tt.wantText)
				}
			} else if !called {
				t.Error("typed handler not called")
			}
		})
	}

	t.Run("handler error passes through", func(t *testing.T) {
		bad := errors.New("bad")
		h := Handle(func(context.Context, string, []int) error { return bad })
		if err := h(context.Background(), Message{Value: []int{1}}); err != bad {
			t.Fatalf("err %v, want %v", err, bad)
		}
	})
}
