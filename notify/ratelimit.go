package notify

import "time"

// tokenBucket is a token bucket driven by evaluation time, not the wall
// clock, so replays and tests see the same limits. Not safe for concurrent
// use; the Receiver's mtx guards it.
type tokenBucket struct {
	perSec float64 // refill rate; 0 means unlimited
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(perMinute, burst int) *tokenBucket {
	return &tokenBucket{perSec: float64(perMinute) / 60, burst: float64(burst), tokens: float64(burst)}
}

// take removes one token at now, reporting false when none is left. Time
// that runs backwards (an out-of-order evaluation) adds nothing.
func (b *tokenBucket) take(now time.Time) bool {
	if b.perSec == 0 {
		return true
	}
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.perSec)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
