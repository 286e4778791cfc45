package notify_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/telemetry"
)

// A receiver composes dedup, rate limit and retry around its
// integrations; the second identical notification is not delivered.
func Example() {
	var sent int
	integration := notify.NotifierFunc(func(ctx context.Context, m *notify.Message) error {
		sent++
		return nil
	})
	opts := notify.DefaultReceiverOptions()
	opts.RateLimitPerMinute = 30
	r, err := notify.NewReceiver("team-a", []notify.Notifier{integration}, opts)
	if err != nil {
		panic(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	alerts := []telemetry.Alert{{Labels: telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout"), StartsAt: now}}
	groupLabels := telemetry.LabelsFromStrings("service", "checkout")
	for range 2 {
		m := notify.NewMessage("team-a", `{}:{service="checkout"}`, groupLabels, alerts, "http://vigil.example", now)
		if err := r.Notify(context.Background(), m); err != nil && !errors.Is(err, notify.ErrDeferred) {
			panic(err)
		}
		now = now.Add(time.Minute)
	}
	fmt.Println("delivered:", sent)
	// Output: delivered: 1
}
