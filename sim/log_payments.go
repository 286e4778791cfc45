package sim

import (
	"math/rand/v2"
	"time"
)

// Payments is a Go service logging logfmt (time, level, msg, then keys).
// The provider's responses are logged with their body, which is where a
// provider that rate-limits behind HTTP 200 shows.

func logfmtHead(b []byte, at time.Time, level, msg string) []byte {
	b = append(b, "time="...)
	b = appendRFC3339(b, at, 3)
	b = append(b, " level="...)
	b = append(b, level...)
	b = append(b, " msg="...)
	if needsQuote(msg) {
		b = append(b, '"')
		b = append(b, msg...)
		return append(b, '"')
	}
	return append(b, msg...)
}

func needsQuote(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '"' || s[i] == '=' {
			return true
		}
	}
	return false
}

func (g *logGen) payLine(at time.Time, b []byte, f *flow) {
	if f != nil {
		b = append(b, " trace_id="...)
		b = f.appendTrace(b)
	}
	g.b = b
	g.emit(svcPayments, srcMain, at, b)
}

func kvOrder(b []byte, order uint64) []byte { return appendOrder(append(b, " order_id="...), order) }

// paymentsRequest charges a payment at the provider for checkout. pending
// reports a charge left for asynchronous retry (HTTP 200 to checkout).
func (g *logGen) paymentsRequest(r *rand.Rand, f *flow, at time.Time, failed bool, order uint64, amount float64) (status int, dur float64, pending bool) {
	m := g.s.m
	st := &m.svc[svcPayments]
	prov := &m.svc[svcProvider]
	t := at
	b := logfmtHead(g.b[:0], t, "info", "charge requested")
	b = kvOrder(b, order)
	b = append(b, " amount="...)
	b = appendFixed(b, amount, 2)
	b = append(b, " currency=EUR method=card"...)
	g.payLine(t, b, f)
	own := st.own.sample(r)
	t = addSec(t, own/2)

	if failed {
		w := [2]float64{st.errOwn, m.edgeFail[edgePaymentsProvider]}
		if pickWeighted(r, w[:]) == 1 {
			for attempt := 1; attempt <= 3; attempt++ {
				lat := 0.03 + prov.own.sample(r)/4
				t = addSec(t, lat)
				b = logfmtHead(g.b[:0], t, "warn", "provider response")
				b = append(b, " provider=acquirer status=503 latency_ms="...)
				b = appendInt(b, int(lat*1000))
				b = append(b, ` body="upstream connect error or disconnect/reset before headers. reset reason: overflow" attempt=`...)
				b = appendInt(b, attempt)
				g.payLine(t, b, f)
				t = addSec(t, 0.2*float64(attempt))
			}
			b = logfmtHead(g.b[:0], t, "error", "provider call failed")
			b = append(b, ` err="provider returned 503 Service Unavailable" attempts=3`...)
			b = kvOrder(b, order)
			g.payLine(t, b, f)
			return 500, t.Sub(at).Seconds(), false
		}
		t = addSec(t, own)
		b = logfmtHead(g.b[:0], t, "error", "charge failed")
		b = append(b, ` err="idempotency key reused with a different payload"`...)
		b = kvOrder(b, order)
		g.payLine(t, b, f)
		return 500, t.Sub(at).Seconds(), false
	}

	if r.Float64() < 0.04 {
		b = logfmtHead(g.b[:0], t, "info", "3ds challenge required")
		b = kvOrder(b, order)
		g.payLine(t, b, f)
		t = addSec(t, 1.5+3*r.Float64())
	}
	rateLimited := r.Float64() < 0.55*g.fx[fxProvider]
	attempts := 1
	for rateLimited {
		lat := 0.012 + 0.03*r.Float64()
		t = addSec(t, lat)
		b = logfmtHead(g.b[:0], t, "info", "provider response")
		b = append(b, " provider=acquirer status=200 latency_ms="...)
		b = appendInt(b, int(lat*1000))
		b = append(b, ` body="{\"error\":\"rate_limited\",\"message\":\"Too many requests, slow down\",\"retry_after\":1}"`...)
		g.payLine(t, b, f)
		if attempts == 2 {
			b = logfmtHead(g.b[:0], t, "error", "charge failed")
			b = append(b, " reason=rate_limited attempts=2 status=pending"...)
			b = kvOrder(b, order)
			g.payLine(t, b, f)
			return 200, t.Sub(at).Seconds(), true
		}
		attempts++
		b = logfmtHead(g.b[:0], t, "warn", "retrying charge")
		b = append(b, " attempt=2 backoff_ms=250 reason=rate_limited"...)
		b = kvOrder(b, order)
		g.payLine(t, b, f)
		t = addSec(t, 0.25)
		rateLimited = r.Float64() < 0.7
	}
	if r.Float64() < prov.errOwn*3 {
		lat := 0.03 + prov.own.sample(r)/4
		t = addSec(t, lat)
		b = logfmtHead(g.b[:0], t, "warn", "provider response")
		b = append(b, " provider=acquirer status=502 latency_ms="...)
		b = appendInt(b, int(lat*1000))
		b = append(b, ` body="<html><body><h1>502 Bad Gateway</h1></body></html>" attempt=1`...)
		g.payLine(t, b, f)
		t = addSec(t, 0.2)
	}
	lat := prov.dist.sampleOK(r)
	t = addSec(t, lat)
	declined := r.Float64() < 0.03
	b = logfmtHead(g.b[:0], t, "info", "provider response")
	b = append(b, " provider=acquirer status="...)
	if declined {
		b = append(b, "402 latency_ms="...)
		b = appendInt(b, int(lat*1000))
		b = append(b, ` body="{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\",\"decline_code\":\"insufficient_funds\"}}"`...)
	} else {
		b = append(b, "200 latency_ms="...)
		b = appendInt(b, int(lat*1000))
		b = append(b, ` body="{\"id\":\"ch_`...)
		b = appendHex(b, r.Uint64(), 16)
		b = append(b, `\",\"status\":\"succeeded\"}"`...)
	}
	g.payLine(t, b, f)
	t = addSec(t, own/2)
	if declined {
		b = logfmtHead(g.b[:0], t, "warn", "card declined")
		b = append(b, " decline_code=insufficient_funds"...)
		b = kvOrder(b, order)
		g.payLine(t, b, f)
		return 402, t.Sub(at).Seconds(), false
	}
	b = logfmtHead(g.b[:0], t, "info", "charge succeeded")
	b = append(b, " payment_id=pay_"...)
	b = appendHex(b, r.Uint64(), 16)
	b = kvOrder(b, order)
	b = append(b, " duration_ms="...)
	b = appendInt(b, int(t.Sub(at).Milliseconds()))
	g.payLine(t, b, f)
	return 200, t.Sub(at).Seconds(), false
}

// paymentsBackground writes provider webhooks, refunds and batch jobs.
func (g *logGen) paymentsBackground(r *rand.Rand) {
	m := g.s.m
	for i, n := 0, poisson(r, m.svc[svcPayments].served*0.6/flowSampleEvery*g.scale*float64(g.stepMs)/1000); i < n; i++ {
		at := g.at(r)
		b := logfmtHead(g.b[:0], at, "info", "webhook received")
		events := [...]string{"charge.succeeded", "charge.succeeded", "charge.succeeded", "charge.refunded", "payout.paid"}
		b = append(b, " event="...)
		b = append(b, events[r.IntN(len(events))]...)
		b = append(b, " id=evt_"...)
		b = appendHex(b, r.Uint64(), 16)
		b = append(b, " signature=valid"...)
		g.payLine(at, b, nil)
	}
	for i, n := 0, g.count(r, 0.004); i < n; i++ {
		at := g.at(r)
		b := logfmtHead(g.b[:0], at, "info", "refund processed")
		b = append(b, " refund_id=re_"...)
		b = appendHex(b, r.Uint64(), 16)
		b = kvOrder(b, r.Uint64())
		b = append(b, " amount="...)
		b = appendFixed(b, 10+r.Float64()*120, 2)
		g.payLine(at, b, nil)
	}
	for i, n := 0, g.count(r, 0.0005); i < n; i++ {
		at := g.at(r)
		b := logfmtHead(g.b[:0], at, "warn", "webhook signature verification failed")
		b = append(b, " remote="...)
		b = appendIP(b, userIP(100000+r.IntN(5000)))
		g.payLine(at, b, nil)
	}
	for _, at := range g.every(15*time.Minute, 6*time.Minute) {
		b := logfmtHead(g.b[:0], at, "info", "settlement batch uploaded")
		b = append(b, " batch_id=stl_"...)
		b = appendHex(b, uint64(at.Unix()), 8)
		b = append(b, " charges="...)
		b = appendInt(b, int(m.svc[svcPayments].served*900))
		g.payLine(at, b, nil)
	}
	for _, at := range g.every(5*time.Minute, 150*time.Second) {
		b := logfmtHead(g.b[:0], at, "info", "idempotency keys purged")
		b = append(b, " count="...)
		b = appendInt(b, int(m.svc[svcPayments].served*300*(0.8+0.4*r.Float64())))
		g.payLine(at, b, nil)
	}
}
