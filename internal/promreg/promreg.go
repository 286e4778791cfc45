// Package promreg registers Prometheus collectors so that a component
// rebuilt in the same process (a configuration reload, a test, a second
// receiver or stream on one registry) keeps counting on the series already
// registered instead of failing.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with r and returns c, or returns the collector
// already registered with the same descriptors when it has c's type. With a
// nil r it returns c and nil. On any other failure (a clashing collector of
// another shape or type) it returns c, unregistered, and the Registerer's
// error unwrapped; callers decide whether to fail or to count into c.
func Register[T prometheus.Collector](r prometheus.Registerer, c T) (T, error) {
	if r == nil {
		return c, nil
	}
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
