package sim

import (
	"math/rand/v2"
	"time"
)

// Cart is a Java service with a classic logback pattern:
// %d{yyyy-MM-dd HH:mm:ss.SSS} [%thread] %-5level %logger{36} [%X{traceId}] - %msg

func (g *logGen) logbackLine(at time.Time, level, thread, logger string, f *flow, msg ...[]byte) {
	b := appendSpaced(g.b[:0], at, 3)
	b = append(b, " ["...)
	b = append(b, thread...)
	b = append(b, "] "...)
	b = padRight(b, level, 5)
	b = append(b, ' ')
	b = append(b, logger...)
	b = append(b, " ["...)
	if f != nil {
		b = f.appendTrace(b)
	}
	b = append(b, "] - "...)
	for _, m := range msg {
		b = append(b, m...)
	}
	g.b = b
	g.emit(svcCart, srcMain, at, b)
}

// cartRequest serves a cart call, from the gateway or (locking the cart)
// from checkout.
func (g *logGen) cartRequest(r *rand.Rand, f *flow, at time.Time, failed, fromCheckout bool) (int, float64, int) {
	m := g.s.m
	st := &m.svc[svcCart]
	thread := execThreads[r.IntN(len(execThreads))]
	cart := splitmix(uint64(f.user))
	var tmp []byte
	cartID := func(b []byte) []byte { return appendHex(append(b, "c-"...), cart, 10) }
	if failed {
		w := [2]float64{st.errOwn, m.edgeFail[edgeCartRedis]}
		if pickWeighted(r, w[:]) == 1 {
			slow := r.Float64() < 0.6 || g.fx[fxPartition] == 0
			dur := 0.004 + st.own.sample(r)
			stack := traceJedisConnect
			if slow {
				dur = params[svcCart].timeout + st.own.sample(r)
				stack = traceJedisTimeout
			}
			end := addSec(at, dur)
			tmp = cartID(append(tmp[:0], "Failed to load cart "...))
			tmp = append(tmp, " from Redis"...)
			g.logbackLine(end, "ERROR", thread, "c.s.cart.redis.RedisCartRepository", f, tmp)
			g.emitTrace(svcCart, end, stack)
			return 500, dur, 87
		}
		dur := st.dist.sampleOK(r)
		end := addSec(at, dur)
		tmp = cartID(append(tmp[:0], "Unexpected error handling request for cart "...))
		g.logbackLine(end, "ERROR", thread, "c.s.cart.api.CartController", f, tmp)
		g.emitTrace(svcCart, end, traceCartState)
		return 500, dur, 87
	}
	dur := st.dist.sampleOK(r)
	end := addSec(at, dur)
	items := 1 + zipfish(r, 12)
	sku := zipfish(r, 40000)
	status := 200
	switch {
	case fromCheckout:
		tmp = cartID(append(tmp[:0], "Cart "...))
		tmp = append(tmp, " locked for checkout ("...)
		tmp = appendInt(tmp, items)
		tmp = append(tmp, " items)"...)
		g.logbackLine(end, "INFO", thread, "c.s.cart.service.CartService", f, tmp)
	case r.Float64() < 0.006:
		status = 400
		tmp = cartID(append(tmp[:0], "Rejected update for cart "...))
		tmp = append(tmp, ": quantity must be between 1 and 20"...)
		g.logbackLine(end, "WARN", thread, "c.s.cart.api.CartController", f, tmp)
	case f.method == "GET":
		tmp = cartID(append(tmp[:0], "Loaded cart "...))
		tmp = append(tmp, " for user "...)
		tmp = appendUser(tmp, f.user)
		tmp = append(tmp, ": "...)
		tmp = appendInt(tmp, items)
		tmp = append(tmp, " items in "...)
		tmp = appendInt(tmp, int(dur*1000))
		tmp = append(tmp, " ms"...)
		g.logbackLine(end, "INFO", thread, "c.s.cart.api.CartController", f, tmp)
	case f.method == "POST":
		tmp = appendSKU(append(tmp[:0], "Added "...), sku)
		tmp = append(tmp, " x"...)
		tmp = appendInt(tmp, 1+zipfish(r, 3))
		tmp = cartID(append(tmp, " to cart "...))
		g.logbackLine(end, "INFO", thread, "c.s.cart.service.CartService", f, tmp)
		if items > 10 && r.Float64() < 0.05 {
			tmp = cartID(append(tmp[:0], "Cart "...))
			tmp = append(tmp, " has "...)
			tmp = appendInt(tmp, 50+r.IntN(20))
			tmp = append(tmp, " items, above soft limit 50"...)
			g.logbackLine(end, "WARN", thread, "c.s.cart.service.CartService", f, tmp)
		}
	case f.method == "DELETE":
		tmp = appendSKU(append(tmp[:0], "Removed "...), sku)
		tmp = cartID(append(tmp, " from cart "...))
		g.logbackLine(end, "INFO", thread, "c.s.cart.service.CartService", f, tmp)
	default:
		tmp = appendSKU(append(tmp[:0], "Updated quantity of "...), sku)
		tmp = append(tmp, " to "...)
		tmp = appendInt(tmp, 1+zipfish(r, 5))
		tmp = cartID(append(tmp, " in cart "...))
		g.logbackLine(end, "INFO", thread, "c.s.cart.service.CartService", f, tmp)
	}
	if dur > 0.25 {
		tmp = cartID(append(tmp[:0], "Slow Redis command HGETALL cart:"...))
		tmp = append(tmp, " took "...)
		tmp = appendInt(tmp, int(dur*900))
		tmp = append(tmp, " ms"...)
		g.logbackLine(end, "WARN", thread, "c.s.cart.redis.RedisCartRepository", f, tmp)
	}
	return status, dur, 200 + 90*items
}

// cartBackground writes the cleanup job, cart statistics, and the redis
// health checks that fail while cart cannot reach redis.
func (g *logGen) cartBackground(r *rand.Rand) {
	m := g.s.m
	var tmp []byte
	for _, at := range g.every(5*time.Minute, 95*time.Second) {
		tmp = append(tmp[:0], "Expired "...)
		tmp = appendInt(tmp, int(m.svc[svcCart].served*3*(0.5+r.Float64())))
		tmp = append(tmp, " abandoned carts (scan took "...)
		tmp = appendInt(tmp, 40+r.IntN(200))
		tmp = append(tmp, " ms)"...)
		g.logbackLine(at, "INFO", "scheduling-1", "c.s.cart.jobs.CartCleanupJob", nil, tmp)
	}
	for _, at := range g.every(15*time.Minute, 3*time.Minute) {
		tmp = append(tmp[:0], "Active carts: "...)
		tmp = appendInt(tmp, int(m.svc[svcCart].served*400))
		g.logbackLine(at, "INFO", "scheduling-2", "c.s.cart.metrics.CartStats", nil, tmp)
	}
	for i, n := 0, g.count(r, 0.001); i < n; i++ {
		g.logbackLine(g.at(r), "WARN", execThreads[r.IntN(len(execThreads))], "o.s.web.servlet.PageNotFound", nil,
			[]byte("No mapping for GET /api/v1/cart/share"))
	}
	if g.fx[fxPartition] > 0 {
		for _, at := range g.every(10*time.Second, 2*time.Second) {
			g.logbackLine(at, "ERROR", "health-1", "c.s.cart.health.RedisHealthIndicator", nil,
				[]byte("Redis health check failed: Unable to connect to redis:6379 (No route to host)"))
		}
		for i, n := 0, poisson(r, float64(g.stepMs)/20000); i < n; i++ {
			g.logbackLine(g.at(r), "WARN", "commons-pool-evictor", "r.clients.jedis.JedisFactory", nil,
				[]byte("Error while validating pooled Jedis object."))
		}
	}
}
