package metricstore

import (
	"math"
	"time"
)

// Bucket is the aggregate of the points of one series in one downsampling
// interval.
type Bucket struct {
	// T is the start of the interval, in ms since the Unix epoch.
	T     int64
	Count int
	Sum   float64
	// Min and Max are kept as float32 (about 7 significant digits), which
	// is plenty for bands around a baseline and halves their cost.
	Min, Max float64
}

// Mean returns Sum/Count.
func (b Bucket) Mean() float64 { return b.Sum / float64(b.Count) }

// Time returns T as a time.Time in UTC.
func (b Bucket) Time() time.Time { return time.UnixMilli(b.T).UTC() }

// bucketBytes is the memory of one bucket slot across the parallel slices.
const bucketBytes = 8 + 4 + 4 + 2

// buckets is a ring of consecutive downsampling slots, the oldest being
// slot number first. Time is implicit in the position, and the fields
// are parallel slices rather than a slice of structs, so a slot costs 18
// bytes instead of 40: at 5-minute slots over 14 days that is 72 KiB a
// series rather than 161.
type buckets struct {
	sum   []float64
	min   []float32
	max   []float32
	count []uint16
	head  int   // ring index of slot first
	n     int   // slots in use
	first int64 // slot number of the oldest slot
}

func (b *buckets) idx(i int) int {
	j := b.head + i
	if j >= len(b.sum) {
		j -= len(b.sum)
	}
	return j
}

// add folds v into the given slot, extending the ring forward (dropping
// slots beyond the retention) or backward (if the retention allows). It
// returns the bytes the ring grew by, and false if the point could not
// be kept: older than the retention, or the slot's count saturated.
//
// NaN values (Prometheus' staleness markers among them) are not folded:
// an aggregate is of the values there were, and one NaN would poison it.
func (b *buckets) add(l *limits, slot int64, v float64) (int64, bool) {
	if math.IsNaN(v) {
		return 0, true
	}
	var grew int64
	switch last := b.first + int64(b.n) - 1; {
	case b.n == 0:
		grew = b.ensure(l, 1)
		b.head, b.n, b.first = 0, 1, slot
		b.clear(0)
	case slot > last:
		need := slot - b.first + 1
		if over := need - int64(l.maxBucket); over > 0 {
			if over >= int64(b.n) {
				// A gap longer than the retention: nothing kept is
				// still within it.
				b.n = 0
				g, ok := b.add(l, slot, v)
				return grew + g, ok
			}
			b.dropBefore(b.first + over)
			need = int64(l.maxBucket)
		}
		grew = b.ensure(l, int(need))
		for i := b.n; i < int(need); i++ {
			b.clear(b.idx(i))
		}
		b.n = int(need)
	case slot < b.first:
		need := last - slot + 1
		if need > int64(l.maxBucket) {
			return 0, false
		}
		grew = b.ensure(l, int(need))
		k := int(b.first - slot)
		b.head -= k
		if b.head < 0 {
			b.head += len(b.sum)
		}
		for i := 0; i < k; i++ {
			b.clear(b.idx(i))
		}
		b.n += k
		b.first = slot
	}
	i := b.idx(int(slot - b.first))
	switch c := b.count[i]; {
	case c == math.MaxUint16:
		return grew, false
	case c == 0:
		b.sum[i], b.min[i], b.max[i] = v, float32(v), float32(v)
	default:
		b.sum[i] += v
		b.min[i] = min(b.min[i], float32(v))
		b.max[i] = max(b.max[i], float32(v))
	}
	b.count[i]++
	return grew, true
}

func (b *buckets) clear(i int) {
	b.sum[i], b.min[i], b.max[i], b.count[i] = 0, 0, 0, 0
}

// ensure makes room for n slots, growing by doubling up to the retention.
func (b *buckets) ensure(l *limits, n int) int64 {
	if n <= len(b.sum) {
		return 0
	}
	c := min(max(2*len(b.sum), n, 16), l.maxBucket)
	sum, mn, mx, cnt := make([]float64, c), make([]float32, c), make([]float32, c), make([]uint16, c)
	for i := 0; i < b.n; i++ {
		j := b.idx(i)
		sum[i], mn[i], mx[i], cnt[i] = b.sum[j], b.min[j], b.max[j], b.count[j]
	}
	grew := int64(c-len(b.sum)) * bucketBytes
	b.sum, b.min, b.max, b.count, b.head = sum, mn, mx, cnt, 0
	return grew
}

// dropBefore forgets the slots before slot.
func (b *buckets) dropBefore(slot int64) {
	if b.n == 0 || slot <= b.first {
		return
	}
	k := slot - b.first
	if k >= int64(b.n) {
		b.n = 0
		return
	}
	b.head = b.idx(int(k))
	b.n -= int(k)
	b.first = slot
}

// get returns the bucket at ring position i (0 is the oldest).
func (b *buckets) get(i int, step int64) Bucket {
	j := b.idx(i)
	return Bucket{
		T: (b.first + int64(i)) * step, Count: int(b.count[j]),
		Sum: b.sum[j], Min: float64(b.min[j]), Max: float64(b.max[j]),
	}
}
