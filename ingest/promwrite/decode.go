package promwrite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// errMalformed wraps protobuf framing errors that make a whole request
// unreadable (as opposed to one bad series, which is rejected alone).
var errMalformed = errors.New("malformed protobuf")

// Field numbers of prometheus.WriteRequest (remote write 1.0) and the
// messages inside it. Only what Vigil uses is decoded; the rest is skipped
// by wire type, so newer senders' additions do not break us.
const (
	v1Timeseries = 1 // WriteRequest.timeseries
	v1Metadata   = 3 // WriteRequest.metadata (ignored)

	tsLabels     = 1 // TimeSeries.labels
	tsSamples    = 2 // TimeSeries.samples
	tsExemplars  = 3 // TimeSeries.exemplars (skipped)
	tsHistograms = 4 // TimeSeries.histograms (skipped)

	labelName  = 1
	labelValue = 2

	sampleValue     = 1
	sampleTimestamp = 2
)

// decoder turns remote write bodies into samples. It is safe for
// concurrent use: per-request state lives in a batch, and the caches are
// synchronised.
type decoder struct {
	legacy  bool
	service []string
	// series caches validated label sets by their remote write 1.0
	// encoding (the concatenated TimeSeries.labels fields).
	series *cache[telemetry.Labels]
	// strs interns remote write 2.0 symbols.
	strs *cache[string]
}

func newDecoder(legacy bool, service []string, cacheBytes int64) *decoder {
	return &decoder{
		legacy:  legacy,
		service: service,
		series:  newCache[telemetry.Labels](cacheBytes * 3 / 4),
		strs:    newCache[string](cacheBytes / 4),
	}
}

// reason indexes batch.rejected; reasonNames gives the metric label.
type reason int

const (
	rMissingName reason = iota
	rInvalidName
	rInvalidValue
	rUnsorted
	rDuplicate
	rMalformed
	rFuture
	numReasons
)

var reasonNames = [numReasons]string{
	reasonMissingName, reasonInvalidName, reasonInvalidValue, reasonUnsorted,
	reasonDuplicate, reasonMalformed, reasonFutureTimestamp,
}

func reasonOf(name string) reason {
	for i, n := range reasonNames {
		if n == name {
			return reason(i)
		}
	}
	return rMalformed
}

// batch is the outcome of decoding one request, and the scratch space
// for doing so. Batches are pooled; reset before use.
type batch struct {
	samples []telemetry.Sample
	res     ingest.Result

	// Counts for metrics and response headers.
	series, histograms, exemplars, metadata int
	cacheHits, cacheMisses                  int
	rejected                                [numReasons]int // samples, by reason
	malformed                               int             // series with malformed content

	// Scratch.
	lbuf    telemetry.Labels
	scratch []byte
	syms    [][]byte
	symStr  []string
	symSet  []bool
	refs    []uint32
}

func (b *batch) reset() {
	// Keep the scratch capacity, within reason: one huge request must not
	// pin its memory for the life of the pool.
	const maxKeep = 1 << 16
	if cap(b.samples) > maxKeep {
		b.samples = nil
	}
	clear(b.samples[:cap(b.samples)]) // drop label references for the GC
	*b = batch{
		samples: b.samples[:0], lbuf: b.lbuf[:0], scratch: b.scratch[:0],
		syms: b.syms[:0], symStr: b.symStr[:0], symSet: b.symSet[:0], refs: b.refs[:0],
	}
}

// rejectSeries refuses a whole series, with n samples.
func (b *batch) rejectSeries(idx int, r reason, n int, msg string) {
	if r == rMalformed {
		b.malformed++
	}
	b.rejected[r] += n
	b.res.Reject(idx, msg)
}

// seriesOutcome tallies the samples of one series that were refused.
type seriesOutcome struct {
	total, future, malformed int
	firstFuture              int64
}

// appendSamples appends to b the samples of series idx, labelled ls: the
// Sample messages at field number field of the TimeSeries ts, the first at
// samplesAt (none when negative), nSamples in all. Samples past maxT (when
// set) or malformed are refused, the rest kept, and the outcome recorded.
func appendSamples(b *batch, ts []byte, field protowire.Number, samplesAt, nSamples, idx int, ls telemetry.Labels, maxT int64, skew time.Duration) {
	var out seriesOutcome
	out.total = nSamples
	for off := max(samplesAt, 0); samplesAt >= 0 && off < len(ts); {
		num, typ, n := protowire.ConsumeTag(ts[off:])
		off += n
		if num != field {
			off += protowire.ConsumeFieldValue(num, typ, ts[off:])
			continue
		}
		v, m := protowire.ConsumeBytes(ts[off:])
		off += m
		t, val, ok := parseSample(v)
		switch {
		case !ok:
			out.malformed++
		case maxT != 0 && t > maxT:
			if out.future == 0 {
				out.firstFuture = t
			}
			out.future++
		default:
			b.samples = append(b.samples, telemetry.Sample{Labels: ls, T: t, V: val})
		}
	}
	out.finish(b, idx, ls, skew)
}

// finish records the series as accepted, or rejected with a reason naming
// what was refused and that the rest was kept.
func (o *seriesOutcome) finish(b *batch, idx int, ls telemetry.Labels, skew time.Duration) {
	if o.future == 0 && o.malformed == 0 {
		b.res.Accepted++
		return
	}
	b.rejected[rFuture] += o.future
	b.rejected[rMalformed] += o.malformed
	if o.malformed > 0 {
		b.malformed++
	}
	bad := o.future + o.malformed
	msg := strconv.Itoa(bad) + " of " + strconv.Itoa(o.total) + " samples of " + display(ls) + " refused ("
	if o.future > 0 {
		msg += strconv.Itoa(o.future) + " stamped more than " + skew.String() + " ahead of the receiver's clock, first at " +
			time.UnixMilli(o.firstFuture).UTC().Format(time.RFC3339Nano)
		if o.malformed > 0 {
			msg += "; "
		}
	}
	if o.malformed > 0 {
		msg += strconv.Itoa(o.malformed) + " malformed"
	}
	b.res.Reject(idx, msg+"), the others accepted")
}

// decodeV1 decodes a remote write 1.0 WriteRequest, appending valid
// samples to b.samples and rejecting invalid series individually. Samples
// stamped after maxT (ms) are refused; maxT 0 disables the check. An error
// means the request framing itself is broken and nothing in b is usable.
func (d *decoder) decodeV1(buf []byte, b *batch, maxT int64, skew time.Duration) error {
	idx := 0
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return fmt.Errorf("%w: write request: %v", errMalformed, protowire.ParseError(n))
		}
		buf = buf[n:]
		if num == v1Timeseries {
			if typ != protowire.BytesType {
				return fmt.Errorf("%w: write request: timeseries has wire type %d", errMalformed, typ)
			}
			ts, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return fmt.Errorf("%w: write request: timeseries %d: %v", errMalformed, idx, protowire.ParseError(n))
			}
			buf = buf[n:]
			d.seriesV1(ts, idx, b, maxT, skew)
			idx++
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, buf)
		if n < 0 {
			return fmt.Errorf("%w: write request: field %d: %v", errMalformed, num, protowire.ParseError(n))
		}
		if num == v1Metadata {
			b.metadata++
		}
		buf = buf[n:]
	}
	return nil
}

// seriesV1 decodes one TimeSeries. Its framing inside the request was
// sound, so any problem within it rejects this series alone.
func (d *decoder) seriesV1(ts []byte, idx int, b *batch, maxT int64, skew time.Duration) {
	b.series++
	// Pass 1: find the labels, which encoders write first and contiguous,
	// and where the samples start.
	lblStart, lblEnd, samplesAt, nSamples := -1, -1, -1, 0
	contiguous := true
	for off := 0; off < len(ts); {
		start := off
		num, typ, n := protowire.ConsumeTag(ts[off:])
		if n < 0 {
			b.rejectSeries(idx, rMalformed, nSamples, "series "+strconv.Itoa(idx)+": "+protowire.ParseError(n).Error())
			return
		}
		off += n
		m := protowire.ConsumeFieldValue(num, typ, ts[off:])
		if m < 0 {
			b.rejectSeries(idx, rMalformed, nSamples, "series "+strconv.Itoa(idx)+": field "+strconv.Itoa(int(num))+": "+protowire.ParseError(m).Error())
			return
		}
		off += m
		if (num == tsLabels || num == tsSamples) && typ != protowire.BytesType {
			b.rejectSeries(idx, rMalformed, nSamples, "series "+strconv.Itoa(idx)+": field "+strconv.Itoa(int(num))+" has wire type "+strconv.Itoa(int(typ)))
			return
		}
		switch num {
		case tsLabels:
			if lblStart < 0 {
				lblStart = start
			} else if lblEnd != start {
				contiguous = false
			}
			lblEnd = off
		case tsSamples:
			if samplesAt < 0 {
				samplesAt = start
			}
			nSamples++
		case tsExemplars:
			b.exemplars++
		case tsHistograms:
			b.histograms++
		}
	}

	var raw []byte
	switch {
	case lblStart < 0:
	case contiguous:
		raw = ts[lblStart:lblEnd]
	default:
		// Gather the label fields so that the key is the same as for a
		// contiguous encoding of the same labels.
		b.scratch = b.scratch[:0]
		for off := 0; off < len(ts); {
			num, typ, n := protowire.ConsumeTag(ts[off:])
			m := protowire.ConsumeFieldValue(num, typ, ts[off+n:])
			if num == tsLabels {
				b.scratch = append(b.scratch, ts[off:off+n+m]...)
			}
			off += n + m
		}
		raw = b.scratch
	}
	ls, ok := d.series.get(raw)
	if ok {
		b.cacheHits++
	} else {
		b.cacheMisses++
		key := string(raw)
		var prob *labelProblem
		if ls, prob = d.parseLabelsV1(raw, key, b); prob != nil {
			b.rejectSeries(idx, reasonOf(prob.reason), nSamples, prob.msg)
			return
		}
		d.series.put(key, ls, int64(24+len(ls)*32))
	}

	appendSamples(b, ts, tsSamples, samplesAt, nSamples, idx, ls, maxT, skew)
}

// parseLabelsV1 decodes and validates the concatenated TimeSeries.labels
// fields in raw. Names and values are substrings of key (string(raw)), so
// a label set costs two allocations however many labels it has.
func (d *decoder) parseLabelsV1(raw []byte, key string, b *batch) (telemetry.Labels, *labelProblem) {
	b.lbuf = b.lbuf[:0]
	for off := 0; off < len(raw); {
		_, _, n := protowire.ConsumeTag(raw[off:])
		off += n
		msg, m := protowire.ConsumeBytes(raw[off:])
		base := off + m - len(msg)
		off += m
		var l telemetry.Label
		for p := 0; p < len(msg); {
			num, typ, n := protowire.ConsumeTag(msg[p:])
			if n < 0 {
				return nil, &labelProblem{reasonMalformed, "label: " + protowire.ParseError(n).Error()}
			}
			p += n
			if (num == labelName || num == labelValue) && typ == protowire.BytesType {
				s, m := protowire.ConsumeBytes(msg[p:])
				if m < 0 {
					return nil, &labelProblem{reasonMalformed, "label: " + protowire.ParseError(m).Error()}
				}
				at := base + p + m - len(s)
				if num == labelName {
					l.Name = key[at : at+len(s)]
				} else {
					l.Value = key[at : at+len(s)]
				}
				p += m
				continue
			}
			m := protowire.ConsumeFieldValue(num, typ, msg[p:])
			if m < 0 {
				return nil, &labelProblem{reasonMalformed, "label: " + protowire.ParseError(m).Error()}
			}
			p += m
		}
		b.lbuf = append(b.lbuf, l)
	}
	return d.finishLabels(b)
}

// finishLabels validates b.lbuf and returns a label set that does not
// alias the scratch buffer.
func (d *decoder) finishLabels(b *batch) (telemetry.Labels, *labelProblem) {
	ls, prob := checkLabels(b.lbuf, d.legacy, d.service)
	if prob != nil {
		return nil, prob
	}
	if len(ls) > 0 && len(b.lbuf) > 0 && &ls[0] == &b.lbuf[0] {
		ls = slices.Clone(ls)
	}
	return ls, nil
}

// parseSample decodes a Sample message (value = 1 double, timestamp = 2
// int64; remote write 2.0's start_timestamp = 3 and unknown fields are
// skipped). Absent fields are zero, as in proto3.
func parseSample(b []byte) (t int64, v float64, ok bool) {
	// Fast path: every encoder we know writes the value then the
	// timestamp, both present (a zero timestamp would be omitted).
	if len(b) >= 11 && b[0] == 0x09 && b[9] == 0x10 {
		x, n := protowire.ConsumeVarint(b[10:])
		if n == len(b)-10 {
			return int64(x), math.Float64frombits(binary.LittleEndian.Uint64(b[1:9])), true
		}
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, false
		}
		b = b[n:]
		switch {
		case num == sampleValue && typ == protowire.Fixed64Type:
			x, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return 0, 0, false
			}
			v, b = math.Float64frombits(x), b[n:]
		case num == sampleTimestamp && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, false
			}
			t, b = int64(x), b[n:]
		case num == sampleValue || num == sampleTimestamp:
			return 0, 0, false // known field, wrong wire type
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, 0, false
			}
			b = b[n:]
		}
	}
	return t, v, true
}
