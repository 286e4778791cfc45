package detect

import (
	"math"
	"time"
)

// seasonBand is the plotting band: an exponentially weighted mean and mean
// absolute deviation per hour of day (24 slots) and per hour of week (168
// slots), float32 to keep a series small. The hour-of-week slots answer
// once every slot has seen two weeks, the hour-of-day slots after two days;
// clipping each update at 4 deviations keeps an incident from dragging the
// band along (robust), while the EW weights let it follow drift.
type seasonBand struct {
	day  [24]bandSlot
	week [168]bandSlot
	// The slots of the current hour are cached: integer divisions for
	// every point cost more than the rest of the band.
	hourStart, hourEnd int64
	hd, hw             int
	dayP, weekP        uint32
	// alpha is the per-sample weight (0: bandAlpha). bandAlpha was set
	// for five-minute samples; finer series take a proportionally
	// smaller weight, so that a slot remembers days whatever the step
	// and an outage of a few minutes cannot drag the band along.
	alpha float64
}

// setStep scales the slots' weights to the sampling step.
func (b *seasonBand) setStep(step time.Duration) {
	if step > 0 && step < bandStep {
		b.alpha = bandAlpha * float64(step) / float64(bandStep)
	}
}

// at returns the slots and period numbers of unix time u.
func (b *seasonBand) at(u int64) (hd, hw int, dayP, weekP uint32) {
	if u < b.hourStart || u >= b.hourEnd || b.hourEnd == 0 {
		h := u / 3600
		if u%3600 < 0 {
			h--
		}
		b.hourStart, b.hourEnd = h*3600, h*3600+3600
		b.hd, b.hw = bandSlots(u)
		b.dayP, b.weekP = uint32(u/86400), uint32(u/(7*86400))
	}
	return b.hd, b.hw, b.dayP, b.weekP
}

type bandSlot struct {
	mean, dev float32
	n         uint32
	periods   uint16 // distinct days (weeks) that fed the slot
	lastP     uint32 // the last of them
}

const (
	bandAlpha   = 0.05            // per sample within a slot
	bandWidth   = 3.0             // half-width in mean absolute deviations × 1.25
	bandDayMin  = 2               // days a slot needs
	bandWeekMin = 2               // weeks a slot needs
	bandStep    = 5 * time.Minute // the step bandAlpha is meant for
)

func bandSlots(u int64) (int, int) {
	h := u / 3600
	if u%3600 < 0 {
		h-- // floor division before 1970
	}
	hd := int(((h % 24) + 24) % 24)
	// 1970-01-01 was a Thursday; Monday 00:00 is hour 72 of that week.
	hw := int((((h + 72) % 168) + 168) % 168)
	return hd, hw
}

func (s *bandSlot) add(v float64, period uint32, alpha float64) {
	if s.n == 0 || period != s.lastP {
		s.periods++
		s.lastP = period
	}
	s.n++
	if s.n == 1 {
		s.mean = float32(v)
		return
	}
	a := math.Max(alpha, 1/float64(s.n))
	m := float64(s.mean)
	dv := float64(s.dev)
	d := v - m
	if lim := 4 * 1.25 * dv; dv > 0 && math.Abs(d) > lim {
		d = math.Copysign(lim, d)
	}
	s.mean = float32(m + a*d)
	s.dev = float32(dv + a*(math.Abs(d)-dv))
}

func (b *seasonBand) add(u int64, v float64) {
	hd, hw, dp, wp := b.at(u)
	alpha := b.alpha
	if alpha == 0 {
		alpha = bandAlpha
	}
	b.day[hd].add(v, dp, alpha)
	b.week[hw].add(v, wp, alpha)
}

// trusted reports whether the band at t rests on seasonal history.
func (b *seasonBand) trusted(t time.Time) bool {
	_, _, _, ok := b.estimate(t.Unix())
	return ok
}

// estimate returns expected, lower, upper at t, and whether a seasonal slot
// had enough history: bandWeekMin weeks for the hour-of-week slot, else
// bandDayMin days for the hour-of-day slot.
func (b *seasonBand) estimate(u int64) (float64, float64, float64, bool) {
	hd, hw, _, _ := b.at(u)
	s := &b.week[hw]
	if s.periods < bandWeekMin+1 {
		// the first period is usually partial: ask for one more
		s = &b.day[hd]
		if s.periods < bandDayMin+1 {
			return 0, 0, 0, false
		}
	}
	m, w := float64(s.mean), bandWidth*1.25*float64(s.dev)
	return m, m - w, m + w, true
}
