package otlp

import (
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// SpanKind is the part of a span's kind that matters for call edges.
type SpanKind uint8

// Span kinds, as in OTLP. Only client/producer spans (the calling side)
// and server/consumer spans (the called side) make edges.
const (
	SpanKindOther SpanKind = iota
	SpanKindClient
	SpanKindServer
	SpanKindProducer
	SpanKindConsumer
)

func (k SpanKind) caller() bool { return k == SpanKindClient || k == SpanKindProducer }
func (k SpanKind) callee() bool { return k == SpanKindServer || k == SpanKindConsumer }

// Callee kinds, the values of Edge.CalleeKind.
const (
	CalleeService   = "service"   // an instrumented service, or one named by peer.service
	CalleeDatabase  = "database"  // named by db.* attributes
	CalleeMessaging = "messaging" // a broker destination named by messaging.* attributes
	CalleeExternal  = "external"  // a host named by server.address or net.peer.name
)

// Span is what the Topology needs of one span: who, which call, when, how
// it went, and whom the span itself names as its peer. Spans are reduced to
// this at decode time so that waiting for a pair holds no attribute maps.
type Span struct {
	TraceID  [16]byte
	SpanID   [8]byte
	ParentID [8]byte // zero for a root span
	Kind     SpanKind
	// Service is the span's resource service (see serviceName).
	Service    string
	Start, End time.Time
	// Error is status code ERROR.
	Error bool
	// Peer and PeerKind name the callee from the span's own attributes
	// (client and producer spans only), used when no server span pairs
	// with it: see peerOf.
	Peer     string
	PeerKind string
}

// Duration is End − Start, never negative.
func (s *Span) Duration() time.Duration {
	if d := s.End.Sub(s.Start); d > 0 {
		return d
	}
	return 0
}

// spans reduces every span of td. Spans are numbered for rejections in the
// request's order (resource, scope, span). A span without a valid trace or
// span id is rejected: it cannot take part in a call.
func (c *converter) spans(td ptrace.Traces, rej *rejections) []Span {
	out := make([]Span, 0, td.SpanCount())
	idx := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		service := serviceName(rs.Resource().Attributes())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j).Spans()
			for k := 0; k < ss.Len(); k++ {
				sp := ss.At(k)
				if sp.TraceID().IsEmpty() || sp.SpanID().IsEmpty() {
					rej.add(idx, reasonBadIDs, fmt.Sprintf("span %q has an empty trace or span id", sp.Name()))
					idx++
					continue
				}
				idx++
				s := Span{
					TraceID:  sp.TraceID(),
					SpanID:   sp.SpanID(),
					ParentID: sp.ParentSpanID(),
					Kind:     spanKind(sp.Kind()),
					Service:  service,
					Start:    spanTime(sp.StartTimestamp()),
					End:      spanTime(sp.EndTimestamp()),
					Error:    sp.Status().Code() == ptrace.StatusCodeError,
				}
				if s.Kind.caller() {
					s.Peer, s.PeerKind = peerOf(sp.Attributes())
				}
				out = append(out, s)
			}
		}
	}
	return out
}

func spanKind(k ptrace.SpanKind) SpanKind {
	switch k {
	case ptrace.SpanKindClient:
		return SpanKindClient
	case ptrace.SpanKindServer:
		return SpanKindServer
	case ptrace.SpanKindProducer:
		return SpanKindProducer
	case ptrace.SpanKindConsumer:
		return SpanKindConsumer
	}
	return SpanKindOther
}

// spanTime converts a span timestamp; unset or out-of-range values are the
// zero time, which the Topology replaces with the receive time.
func spanTime(ts pcommon.Timestamp) time.Time {
	if ts == 0 || uint64(ts) > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(0, int64(ts)).UTC()
}

// peerOf names the callee of a client or producer span from its
// attributes, in this order:
//
//  1. peer.service: the caller's own name for the service it calls;
//  2. a database (db.system, or db.system.name in newer conventions): its
//     db.namespace or db.name when set, else the system ("postgresql"), so
//     that two databases of one system stay apart when they are named;
//  3. messaging (messaging.system): messaging.destination.name, else the
//     system;
//  4. server.address, then net.peer.name (older conventions): a host.
//
// It returns "" when none is set: such a span makes an edge only if its
// server side arrives.
func peerOf(attrs pcommon.Map) (name, kind string) {
	if v := attrString(attrs, "peer.service"); v != "" {
		return v, CalleeService
	}
	if sys := firstAttr(attrs, "db.system", "db.system.name"); sys != "" {
		if db := firstAttr(attrs, "db.namespace", "db.name"); db != "" {
			return db, CalleeDatabase
		}
		return sys, CalleeDatabase
	}
	if sys := attrString(attrs, "messaging.system"); sys != "" {
		if d := attrString(attrs, "messaging.destination.name"); d != "" {
			return d, CalleeMessaging
		}
		return sys, CalleeMessaging
	}
	if h := firstAttr(attrs, "server.address", "net.peer.name"); h != "" {
		return h, CalleeExternal
	}
	return "", ""
}

func firstAttr(attrs pcommon.Map, keys ...string) string {
	for _, k := range keys {
		if v := attrString(attrs, k); v != "" {
			return v
		}
	}
	return ""
}
