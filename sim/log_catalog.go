package sim

import (
	"math/rand/v2"
	"time"
)

// Catalog is a Go service logging log/slog JSON: time (RFC 3339, ms),
// level, msg, then attributes.

func slogHead(b []byte, at time.Time, level, msg string) []byte {
	b = append(b, `{"time":"`...)
	b = appendRFC3339(b, at, 3)
	b = append(b, `","level":"`...)
	b = append(b, level...)
	b = append(b, `","msg":"`...)
	b = append(b, msg...)
	return append(b, '"')
}

func (g *logGen) slogTrace(b []byte, f *flow) []byte {
	b = append(b, `,"trace_id":"`...)
	b = f.appendTrace(b)
	b = append(b, `","span_id":"`...)
	b = appendHex(b, f.span^0x5ca1ab1e, 16)
	return append(b, '"')
}

const catalogDBAddr = "db-prod-1:5432"

// catalogRequest serves one catalog call: a product page, a category list,
// a search or reviews. Searches always hit the database; the rest are read
// through the redis cache.
func (g *logGen) catalogRequest(r *rand.Rand, f *flow, at time.Time, failed bool) (int, float64, int) {
	m := g.s.m
	st := &m.svc[svcCatalog]
	path := f.path[len("/api/v1"):]
	search := len(path) > 7 && string(path[:7]) == "/search"
	cache := "hit"
	switch {
	case search:
		cache = "bypass"
	case r.Float64() > m.redis.hit:
		cache = "miss"
	}
	dur := st.dist.sampleOK(r)
	if cache == "hit" {
		dur *= 0.7
	} else {
		dur *= 1.6
	}
	status, size := 200, 400+r.IntN(24000)
	if failed {
		status, size = 500, 94
		w := [3]float64{st.errOwn, m.edgeFail[edgeCatalogPostgres], m.edgeFail[edgeCatalogRedis]}
		cause := pickWeighted(r, w[:])
		end := addSec(at, dur)
		b := slogHead(g.b[:0], end, "ERROR", "request failed")
		switch cause {
		case 1:
			cache = "miss"
			b = append(b, `,"error":"`...)
			if g.fx[fxDBDown] > 0 {
				b = append(b, "dial tcp 10.0.3.15:5432: connect: connection refused"...)
			} else {
				b = append(b, "pq: canceling statement due to statement timeout"...)
			}
			b = append(b, `","db":"`+catalogDBAddr+`"`...)
		case 2:
			b = append(b, `,"error":"redis: connection pool timeout","redis":"redis:6379"`...)
		default:
			b = append(b, `,"error":"json: error calling MarshalJSON for type *catalog.Price: invalid currency \"\""`...)
		}
		b = jsonBytes(b, "path", path)
		b = g.slogTrace(b, f)
		b = append(b, '}')
		g.b = b
		g.emit(svcCatalog, srcMain, end, b)
	} else if !search && path[len("/products/")-1] == '/' && r.Float64() < 0.03 {
		status, size = 404, 41
		b := slogHead(g.b[:0], addSec(at, dur*0.9), "WARN", "product not found")
		b = jsonBytes(b, "sku", path[len("/products/"):min(len(path), len("/products/SKU-00000"))])
		b = g.slogTrace(b, f)
		b = append(b, '}')
		g.b = b
		g.emit(svcCatalog, srcMain, addSec(at, dur*0.9), b)
	}
	end := addSec(at, dur)
	if search && status == 200 {
		b := slogHead(g.b[:0], end, "INFO", "search executed")
		q := path[len("/search?q="):]
		b = jsonBytes(b, "query", q)
		b = jsonInt(b, "results", zipfish(r, 400))
		b = jsonFloat(b, "db_ms", dur*900, 2)
		b = g.slogTrace(b, f)
		b = append(b, '}')
		g.b = b
		g.emit(svcCatalog, srcMain, end, b)
	}
	if dur > 0.5 && cache != "hit" {
		b := slogHead(g.b[:0], end, "WARN", "slow query")
		b = jsonFloat(b, "db_ms", dur*950, 2)
		b = jsonStr(b, "query", "products_by_category")
		b = g.slogTrace(b, f)
		b = append(b, '}')
		g.b = b
		g.emit(svcCatalog, srcMain, end, b)
	}
	level := "INFO"
	if status >= 500 {
		level = "ERROR"
	}
	b := slogHead(g.b[:0], end, level, "request served")
	b = jsonStr(b, "method", f.method)
	b = jsonBytes(b, "path", path)
	b = jsonInt(b, "status", status)
	b = jsonFloat(b, "duration_ms", dur*1000, 2)
	b = jsonStr(b, "cache", cache)
	b = g.slogTrace(b, f)
	b = append(b, '}')
	g.b = b
	g.emit(svcCatalog, srcMain, end, b)
	return status, dur, size
}

// catalogBackground writes pool statistics, periodic refreshes and, while
// the database is down, failed health checks.
func (g *logGen) catalogBackground(r *rand.Rand) {
	m := g.s.m
	pl := &m.pg.pools[poolCatalog]
	for _, at := range g.every(time.Minute, 41*time.Second) {
		b := slogHead(g.b[:0], at, "INFO", "db pool stats")
		open := int(pl.size + 0.5)
		inUse := min(open, int(pl.active+r.Float64()))
		b = jsonInt(b, "open", open)
		b = jsonInt(b, "in_use", inUse)
		b = jsonInt(b, "idle", open-inUse)
		b = jsonInt(b, "wait_count", int(pl.pending*60))
		b = append(b, '}')
		g.b = b
		g.emit(svcCatalog, srcMain, at, b)
	}
	for _, at := range g.every(5*time.Minute, 2*time.Minute+7*time.Second) {
		b := slogHead(g.b[:0], at, "INFO", "price feed refreshed")
		b = jsonInt(b, "items", 38000+r.IntN(4000))
		b = jsonInt(b, "changed", r.IntN(300))
		b = jsonFloat(b, "duration_ms", 800+r.Float64()*900, 1)
		b = append(b, '}')
		g.b = b
		g.emit(svcCatalog, srcMain, at, b)
	}
	for _, at := range g.every(time.Hour, 17*time.Minute) {
		b := slogHead(g.b[:0], at, "INFO", "recommendation model reloaded")
		b = jsonStr(b, "model", "als-2026w01")
		b = jsonInt(b, "items", 40000)
		b = append(b, '}')
		g.b = b
		g.emit(svcCatalog, srcMain, at, b)
	}
	for i, n := 0, g.count(r, 0.002); i < n; i++ {
		at := g.at(r)
		b := slogHead(g.b[:0], at, "WARN", "deprecated API version requested")
		b = jsonStr(b, "version", "v0")
		b = jsonStr(b, "client", "ShopApp/3.9.1")
		b = append(b, '}')
		g.b = b
		g.emit(svcCatalog, srcMain, at, b)
	}
	if g.fx[fxDBDown] > 0 {
		for _, at := range g.every(10*time.Second, 3*time.Second) {
			b := slogHead(g.b[:0], at, "ERROR", "db health check failed")
			b = append(b, `,"error":"dial tcp 10.0.3.15:5432: connect: connection refused","db":"`+catalogDBAddr+`"}`...)
			g.b = b
			g.emit(svcCatalog, srcMain, at, b)
		}
	}
}
