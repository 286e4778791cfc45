package sim

import (
	"math/rand/v2"
	"time"
)

// The API gateway is a Go service logging zap production JSON: level, ts
// (epoch seconds), caller, msg, then fields.

func (g *logGen) zapHead(b []byte, at time.Time, level, caller, msg string) []byte {
	b = append(b, `{"level":"`...)
	b = append(b, level...)
	b = append(b, `","ts":`...)
	b = appendEpochSeconds(b, at, 6)
	b = append(b, `,"caller":"`...)
	b = append(b, caller...)
	b = append(b, `","msg":"`...)
	b = append(b, msg...)
	return append(b, '"')
}

func jsonStr(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":`...)
	return appendJSONString(b, val)
}

func jsonBytes(b []byte, key string, val []byte) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":"`...)
	b = append(b, val...)
	return append(b, '"')
}

func jsonInt(b []byte, key string, v int) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":`...)
	return appendInt(b, v)
}

func jsonFloat(b []byte, key string, v float64, d int) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":`...)
	return appendFixed(b, v, d)
}

func (g *logGen) gatewayAccess(f *flow, at time.Time, status, size int, dur float64) {
	level := "info"
	if status >= 500 {
		level = "error"
	} else if status >= 400 {
		level = "warn"
	}
	b := g.zapHead(g.b[:0], at, level, "proxy/handler.go:142", "request completed")
	b = jsonStr(b, "method", f.method)
	b = jsonBytes(b, "path", f.path)
	b = jsonInt(b, "status", status)
	up := routeName[f.route]
	if up == "" {
		up = "gateway"
	}
	b = jsonStr(b, "upstream", up)
	b = jsonFloat(b, "duration", dur, 6)
	b = jsonInt(b, "bytes", size)
	b = append(b, `,"client_ip":"`...)
	b = appendIP(b, userIP(f.user))
	b = append(b, `","request_id":"`...)
	b = f.appendTrace(b)
	b = append(b, `","user_id":"`...)
	b = appendUser(b, f.user)
	b = append(b, `"}`...)
	g.b = b
	g.emit(svcGateway, srcMain, at, b)
	if dur > 1 && status < 500 {
		b = g.zapHead(g.b[:0], at, "warn", "proxy/handler.go:171", "slow upstream response")
		b = jsonStr(b, "upstream", up)
		b = jsonFloat(b, "duration", dur, 6)
		b = append(b, `,"request_id":"`...)
		b = f.appendTrace(b)
		b = append(b, `"}`...)
		g.b = b
		g.emit(svcGateway, srcMain, at, b)
	}
}

func (g *logGen) gatewayUpstreamError(r *rand.Rand, f *flow, at time.Time, status int, dur float64) {
	b := g.zapHead(g.b[:0], at, "error", "proxy/upstream.go:88", "upstream error")
	b = jsonStr(b, "upstream", routeName[f.route])
	b = jsonInt(b, "status", status)
	var e []byte
	switch status {
	case 502:
		e = append(e, "dial tcp 10.0.2."...)
		e = appendInt(e, 11+r.IntN(8))
		if r.IntN(2) == 0 {
			e = append(e, ":8080: connect: connection refused"...)
		} else {
			e = append(e, ":8080: read: connection reset by peer"...)
		}
	case 504:
		e = append(e, "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"...)
	default:
		e = append(e, "upstream returned 500 Internal Server Error"...)
	}
	b = jsonBytes(b, "error", e)
	b = jsonFloat(b, "duration", dur, 6)
	b = append(b, `,"request_id":"`...)
	b = f.appendTrace(b)
	b = append(b, `"}`...)
	g.b = b
	g.emit(svcGateway, srcMain, at, b)
}

// gatewayOwnOutcome decides the status of the gateway's own endpoints.
func (g *logGen) gatewayOwnOutcome(r *rand.Rand, f *flow, stage int) (int, int) {
	if stage == stageGwOwn {
		return 500, 0
	}
	switch u := r.Float64(); {
	case u < 0.06:
		g.gatewayJWT(r, f)
		return 401, 0
	case u < 0.08:
		f.path = append(f.path[:0], "/api/v1/wishlist/export"...)
		return 404, 19
	case u < 0.08+0.3*g.fx[fxSurge]:
		return 429, 0
	}
	return 200, 120 + r.IntN(900)
}

func (g *logGen) gatewayJWT(r *rand.Rand, f *flow) {
	at := addSec(f.t0, 0.001)
	b := g.zapHead(g.b[:0], at, "warn", "auth/jwt.go:64", "jwt validation failed")
	reasons := [...]string{"token is expired", "token signature is invalid", "token used before issued"}
	b = jsonStr(b, "reason", reasons[zipfish(r, 3)])
	b = append(b, `,"client_ip":"`...)
	b = appendIP(b, userIP(f.user))
	b = append(b, `","request_id":"`...)
	b = f.appendTrace(b)
	b = append(b, `"}`...)
	g.b = b
	g.emit(svcGateway, srcMain, at, b)
}

func (g *logGen) gatewayHandlerError(r *rand.Rand, f *flow, at time.Time) {
	b := g.zapHead(g.b[:0], at, "error", "session/store.go:117", "handler error")
	errs := [...]string{"session store: context canceled", "session store: i/o timeout", "encode response: write tcp 10.0.1.21:8080: broken pipe"}
	b = jsonStr(b, "error", errs[r.IntN(len(errs))])
	b = jsonBytes(b, "path", f.path)
	b = append(b, `,"request_id":"`...)
	b = f.appendTrace(b)
	b = append(b, `"}`...)
	g.b = b
	g.emit(svcGateway, srcMain, at, b)
}

// gatewayBackground writes pool statistics, rate limiting, circuit breaker
// transitions and config reloads.
func (g *logGen) gatewayBackground(r *rand.Rand) {
	m := g.s.m
	for _, at := range g.every(time.Minute, 13*time.Second) {
		for k, e := range gatewayRoutes {
			cs := &m.svc[edges[e].to]
			b := g.zapHead(g.b[:0], at.Add(time.Duration(k)*time.Millisecond), "info", "proxy/pool.go:53", "connection pool stats")
			b = jsonStr(b, "upstream", svcNames[edges[e].to])
			active := int(cs.inflight + 0.5)
			b = jsonInt(b, "active", active)
			b = jsonInt(b, "idle", max(0, 32*cs.replicas-active))
			b = jsonInt(b, "endpoints", cs.replicas)
			b = append(b, '}')
			g.b = b
			g.emit(svcGateway, srcMain, at.Add(time.Duration(k)*time.Millisecond), b)
		}
	}
	for _, at := range g.every(10*time.Minute, 4*time.Minute+31*time.Second) {
		b := g.zapHead(g.b[:0], at, "info", "config/watch.go:77", "config reloaded")
		b = jsonInt(b, "routes", 42)
		b = jsonStr(b, "checksum", string(appendHex(nil, splitmix(uint64(at.Unix()/86400)), 8)))
		b = append(b, '}')
		g.b = b
		g.emit(svcGateway, srcMain, at, b)
	}
	for i, n := 0, g.count(r, 0.003+0.4*g.fx[fxSurge]); i < n; i++ {
		at := g.at(r)
		b := g.zapHead(g.b[:0], at, "warn", "ratelimit/limiter.go:39", "rate limit exceeded")
		b = append(b, `,"client_ip":"`...)
		b = appendIP(b, userIP(zipfish(r, 500)))
		b = append(b, `","limit":"search:30rps"}`...)
		g.b = b
		g.emit(svcGateway, srcMain, at, b)
	}
	for k, e := range gatewayRoutes {
		svc := edges[e].to
		fail := m.svc[svc].fail
		open := g.cbOpen[svc]
		if (!open && fail > 0.3) || (open && fail < 0.1) {
			g.cbOpen[svc] = !open
			at := g.t0.Add(time.Duration(3000+k*211) * time.Millisecond)
			state, level := "open", "error"
			if open {
				state, level = "closed", "info"
			}
			b := g.zapHead(g.b[:0], at, level, "proxy/breaker.go:61", "circuit breaker state changed")
			b = jsonStr(b, "upstream", svcNames[svc])
			b = jsonStr(b, "state", state)
			b = jsonFloat(b, "failure_ratio", fail, 3)
			b = append(b, '}')
			g.b = b
			g.emit(svcGateway, srcMain, at, b)
		}
	}
	for _, c := range m.scaled {
		// The new pods become ready a little after the autoscaler's event.
		at := g.t0.Add(time.Duration(g.stepMs*3/4+int64(c.svc)) * time.Millisecond)
		b := g.zapHead(g.b[:0], at, "info", "discovery/k8s.go:102", "upstream endpoints updated")
		b = jsonStr(b, "upstream", svcNames[c.svc])
		b = jsonInt(b, "endpoints", c.to)
		b = append(b, '}')
		g.b = b
		g.emit(svcGateway, srcMain, at, b)
	}
}
