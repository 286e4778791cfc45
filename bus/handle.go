package bus

import (
	"context"
	"errors"
	"fmt"
)

// ErrValueType is returned by a Handler built with Handle when a message's
// Value is not the batch type it was built for: a wiring mistake, since
// each topic carries one type.
var ErrValueType = errors.New("bus: unexpected value type")

// Handle adapts a typed batch handler to a Handler, so that consumers do
// not repeat the type assertion. A message whose Value is not a []T
// (including a nil Value) is not passed to h; the Handler returns an error
// wrapping ErrValueType that names both types, which the bus logs and
// counts.
func Handle[T any](h func(ctx context.Context, key string, batch []T) error) Handler {
	return func(ctx context.Context, m Message) error {
		batch, ok := m.Value.([]T)
		if !ok {
			return fmt.Errorf("%w: topic %q carries %T, handler wants %T", ErrValueType, m.Topic, m.Value, batch)
		}
		return h(ctx, m.Key, batch)
	}
}
