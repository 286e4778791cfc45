package promwrite

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilops/vigil/telemetry"
)

// Field numbers of io.prometheus.write.v2.Request (remote write 2.0).
const (
	v2Symbols    = 4 // Request.symbols
	v2Timeseries = 5 // Request.timeseries

	v2LabelsRefs = 1 // TimeSeries.labels_refs (packed uint32)
	v2Samples    = 2 // TimeSeries.samples
	v2Histograms = 3 // TimeSeries.histograms (skipped)
	v2Exemplars  = 4 // TimeSeries.exemplars (skipped)
	// TimeSeries.metadata = 5 is skipped: Vigil keeps no metric metadata.
)

// decodeV2 decodes a remote write 2.0 Request. Labels are references into
// the request's symbol table; symbols are interned across requests, so a
// label set costs one slice allocation. Errors are as for decodeV1.
func (d *decoder) decodeV2(buf []byte, b *batch, maxT int64, skew time.Duration) error {
	// The symbol table is needed before any series can be read, and the
	// format does not promise that it comes first, so it is collected in a
	// pass of its own.
	b.syms = b.syms[:0]
	for off := 0; off < len(buf); {
		num, typ, n := protowire.ConsumeTag(buf[off:])
		if n < 0 {
			return fmt.Errorf("%w: request: %v", errMalformed, protowire.ParseError(n))
		}
		off += n
		if (num == v2Symbols || num == v2Timeseries) && typ != protowire.BytesType {
			return fmt.Errorf("%w: request: field %d has wire type %d", errMalformed, num, typ)
		}
		if num == v2Symbols {
			s, m := protowire.ConsumeBytes(buf[off:])
			if m < 0 {
				return fmt.Errorf("%w: request: symbol %d: %v", errMalformed, len(b.syms), protowire.ParseError(m))
			}
			b.syms = append(b.syms, s)
			off += m
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, buf[off:])
		if m < 0 {
			return fmt.Errorf("%w: request: field %d: %v", errMalformed, num, protowire.ParseError(m))
		}
		off += m
	}
	if n := len(b.syms); cap(b.symStr) < n {
		b.symStr, b.symSet = make([]string, n), make([]bool, n)
	} else {
		b.symStr, b.symSet = b.symStr[:n], b.symSet[:n]
		clear(b.symStr)
		clear(b.symSet)
	}

	idx := 0
	for off := 0; off < len(buf); {
		num, typ, n := protowire.ConsumeTag(buf[off:])
		off += n
		if num != v2Timeseries {
			off += protowire.ConsumeFieldValue(num, typ, buf[off:])
			continue
		}
		ts, m := protowire.ConsumeBytes(buf[off:])
		off += m
		d.seriesV2(ts, idx, b, maxT, skew)
		idx++
	}
	return nil
}

// symbol returns the interned string of symbol i, which must be in range.
func (d *decoder) symbol(b *batch, i uint32) string {
	if b.symSet[i] {
		return b.symStr[i]
	}
	raw := b.syms[i]
	s, ok := d.strs.get(raw)
	if !ok {
		s = string(raw)
		d.strs.put(s, s, 16)
	}
	b.symStr[i], b.symSet[i] = s, true
	return s
}

func (d *decoder) seriesV2(ts []byte, idx int, b *batch, maxT int64, skew time.Duration) {
	b.series++
	b.refs = b.refs[:0]
	samplesAt, nSamples := -1, 0
	malformed := func(what string) {
		b.rejectSeries(idx, rMalformed, nSamples, "series "+strconv.Itoa(idx)+": "+what)
	}
	for off := 0; off < len(ts); {
		start := off
		num, typ, n := protowire.ConsumeTag(ts[off:])
		if n < 0 {
			malformed(protowire.ParseError(n).Error())
			return
		}
		off += n
		switch {
		case num == v2LabelsRefs && typ == protowire.BytesType: // packed
			packed, m := protowire.ConsumeBytes(ts[off:])
			if m < 0 {
				malformed("labels_refs: " + protowire.ParseError(m).Error())
				return
			}
			off += m
			for len(packed) > 0 {
				x, k := protowire.ConsumeVarint(packed)
				if k < 0 || x > 1<<32-1 {
					malformed("labels_refs: bad reference")
					return
				}
				b.refs = append(b.refs, uint32(x))
				packed = packed[k:]
			}
			continue
		case num == v2LabelsRefs && typ == protowire.VarintType: // unpacked
			x, m := protowire.ConsumeVarint(ts[off:])
			if m < 0 || x > 1<<32-1 {
				malformed("labels_refs: bad reference")
				return
			}
			b.refs = append(b.refs, uint32(x))
			off += m
			continue
		case num == v2LabelsRefs || (num == v2Samples && typ != protowire.BytesType):
			malformed("field " + strconv.Itoa(int(num)) + " has wire type " + strconv.Itoa(int(typ)))
			return
		}
		m := protowire.ConsumeFieldValue(num, typ, ts[off:])
		if m < 0 {
			malformed("field " + strconv.Itoa(int(num)) + ": " + protowire.ParseError(m).Error())
			return
		}
		off += m
		switch num {
		case v2Samples:
			if samplesAt < 0 {
				samplesAt = start
			}
			nSamples++
		case v2Histograms:
			b.histograms++
		case v2Exemplars:
			b.exemplars++
		}
	}
	if len(b.refs)%2 != 0 {
		malformed("odd number of labels_refs (" + strconv.Itoa(len(b.refs)) + ")")
		return
	}
	b.lbuf = b.lbuf[:0]
	for i := 0; i < len(b.refs); i += 2 {
		nr, vr := b.refs[i], b.refs[i+1]
		if int(nr) >= len(b.syms) || int(vr) >= len(b.syms) {
			malformed("labels_refs point past the symbol table (" + strconv.Itoa(len(b.syms)) + " symbols)")
			return
		}
		b.lbuf = append(b.lbuf, telemetry.Label{Name: d.symbol(b, nr), Value: d.symbol(b, vr)})
	}
	ls, prob := d.finishLabels(b)
	if prob != nil {
		b.rejectSeries(idx, reasonOf(prob.reason), nSamples, prob.msg)
		return
	}

	appendSamples(b, ts, v2Samples, samplesAt, nSamples, idx, ls, maxT, skew)
}
