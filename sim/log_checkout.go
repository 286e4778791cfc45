package sim

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Checkout is a Spring Boot 3 service with the default console pattern:
// timestamp, level, PID, application, thread (15 wide), [traceId-spanId],
// logger (40 wide), message.

func padLeft(b []byte, s string, w int) []byte {
	if len(s) > w {
		return append(b, s[len(s)-w:]...)
	}
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

func padRight(b []byte, s string, w int) []byte {
	if len(s) > w {
		s = s[:w]
	}
	b = append(b, s...)
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return b
}

var execThreads [48]string

func init() {
	for i := range execThreads {
		execThreads[i] = "http-nio-8080-exec-" + strconv.Itoa(i+1)
	}
}

func (g *logGen) springHead(b []byte, at time.Time, level, thread string, f *flow, logger string) []byte {
	b = appendRFC3339(b, at, 3)
	b = padLeft(append(b, ' '), level, 5)
	b = append(b, " 1 --- [checkout] ["...)
	b = padLeft(b, thread, 15)
	b = append(b, "] "...)
	if f != nil {
		b = append(b, '[')
		b = f.appendTrace(b)
		b = append(b, '-')
		b = appendHex(b, f.span^0xc0ffee, 16)
		b = append(b, "] "...)
	}
	b = padRight(b, logger, 40)
	return append(b, " : "...)
}

func (g *logGen) checkoutLine(at time.Time, level string, f *flow, thread, logger string, msg ...[]byte) {
	b := g.springHead(g.b[:0], at, level, thread, f, logger)
	for _, m := range msg {
		b = append(b, m...)
	}
	g.b = b
	g.emit(svcCheckout, srcMain, at, b)
}

// checkoutRequest places an order: lock the cart, reserve stock, charge
// the payment, write the order. Cart and payments lines are written by
// their own generators under the same trace.
func (g *logGen) checkoutRequest(r *rand.Rand, f *flow, at time.Time, failed bool) (int, float64, int) {
	m := g.s.m
	st := &m.svc[svcCheckout]
	thread := execThreads[r.IntN(len(execThreads))]
	order := r.Uint64()
	cart := splitmix(uint64(f.user))
	items := 1 + zipfish(r, 6)
	var tmp, tmp2 []byte

	cause := -1
	if failed {
		w := [4]float64{st.errOwn, m.edgeFail[edgeCheckoutCart], m.edgeFail[edgeCheckoutPayments], m.edgeFail[edgeCheckoutPostgres]}
		cause = pickWeighted(r, w[:])
	}
	own := st.own.sample(r)
	t := at
	tmp = append(tmp[:0], "Checkout started for user "...)
	tmp = appendUser(tmp, f.user)
	tmp = append(tmp, " cart c-"...)
	tmp = appendHex(tmp, cart, 10)
	tmp = append(tmp, " items="...)
	tmp = appendInt(tmp, items)
	g.checkoutLine(t, "INFO", f, thread, "c.s.checkout.web.CheckoutController", tmp)

	// The cart is locked first.
	cStatus, cDur, _ := g.cartRequest(r, f, addSec(t, 0.002), cause == 1, true)
	t = addSec(t, 0.003+cDur)
	if cause == 1 || cStatus >= 500 {
		tmp = append(tmp[:0], "Failed to lock cart c-"...)
		tmp = appendHex(tmp, cart, 10)
		tmp = append(tmp, ": 500 Internal Server Error from POST http://cart:8080/internal/carts/c-"...)
		tmp = appendHex(tmp, cart, 10)
		tmp = append(tmp, "/lock"...)
		g.checkoutLine(t, "ERROR", f, thread, "c.s.checkout.client.CartClient", tmp)
		g.emitTrace(svcCheckout, t, traceCartClient)
		return 500, t.Sub(at).Seconds() + own, 112
	}
	if r.Float64() < 0.01 && !failed {
		g.checkoutLine(addSec(t, own/3), "WARN", f, thread, "c.s.checkout.web.CheckoutController",
			[]byte("Validation failed for checkout request: shippingAddress.postalCode must not be blank"))
		return 400, t.Sub(at).Seconds() + own/3, 186
	}
	if cause == 3 {
		// The database: connection refused while postgres is down (after
		// Hikari's 5s connection timeout), serialization failures otherwise.
		tmp = append(tmp[:0], "Failed to place order "...)
		tmp = appendOrder(tmp, order)
		if g.fx[fxDBDown] > 0 {
			t = addSec(t, 5+own)
			tmp = append(tmp, ": java.net.ConnectException: Connection refused (db-prod-1:5432)"...)
			g.checkoutLine(t, "ERROR", f, thread, "c.s.checkout.repository.OrderRepository", tmp)
			g.emitTrace(svcCheckout, t, traceJDBC)
		} else {
			t = addSec(t, own)
			tmp = append(tmp, ": could not serialize access due to concurrent update"...)
			g.checkoutLine(t, "ERROR", f, thread, "c.s.checkout.service.InventoryService", tmp)
			g.emitTrace(svcCheckout, t, traceSerialize)
		}
		return 500, t.Sub(at).Seconds(), 112
	}
	tmp = append(tmp[:0], "Reserved "...)
	tmp = appendInt(tmp, items)
	tmp = append(tmp, " items for order "...)
	tmp = appendOrder(tmp, order)
	t = addSec(t, own/4)
	g.checkoutLine(t, "INFO", f, thread, "c.s.checkout.service.InventoryService", tmp)
	if cause == 0 {
		t = addSec(t, own)
		tmp = append(tmp[:0], "Checkout failed for order "...)
		tmp = appendOrder(tmp, order)
		g.checkoutLine(t, "ERROR", f, thread, "c.s.checkout.web.CheckoutController", tmp)
		if g.fx[fxBadDeploy] > 0 && r.Float64() < 0.97 {
			g.emitTrace(svcCheckout, t, traceNPE)
		} else {
			g.emitTrace(svcCheckout, t, traceReservation)
		}
		return 500, t.Sub(at).Seconds(), 112
	}
	if r.Float64() < 0.05 {
		tmp = append(tmp[:0], "Applied coupon WINTER10 to order "...)
		tmp = appendOrder(tmp, order)
		tmp = append(tmp, ": -5.00 EUR"...)
		g.checkoutLine(t, "INFO", f, thread, "c.s.checkout.service.CouponService", tmp)
	}
	amount := 9.9 + float64(items)*(8+r.Float64()*70)
	pStatus, pDur, pending := g.paymentsRequest(r, f, addSec(t, 0.002), cause == 2, order, amount)
	t = addSec(t, 0.003+pDur)
	if cause == 2 || pStatus >= 500 {
		tmp = append(tmp[:0], "Payment call failed for order "...)
		tmp = appendOrder(tmp, order)
		tmp = append(tmp, ": I/O error on POST request for \"http://payments:8080/v1/charges\": Read timed out"...)
		g.checkoutLine(t, "ERROR", f, thread, "c.s.checkout.client.PaymentClient", tmp)
		g.emitTrace(svcCheckout, t, tracePaymentClient)
		return 500, t.Sub(at).Seconds(), 112
	}
	if pDur > 1 {
		tmp = append(tmp[:0], "Payment call slow: "...)
		tmp = appendInt(tmp, int(pDur*1000))
		tmp = append(tmp, " ms (threshold 1000 ms)"...)
		g.checkoutLine(t, "WARN", f, thread, "c.s.checkout.client.PaymentClient", tmp)
	}
	if pStatus == 402 {
		// A declined card is a normal answer: the shop shows a message.
		tmp = append(tmp[:0], "Payment declined for order "...)
		tmp = appendOrder(tmp, order)
		g.checkoutLine(t, "WARN", f, thread, "c.s.checkout.client.PaymentClient", tmp)
		return 200, t.Sub(at).Seconds(), 98
	}
	if pending {
		tmp = append(tmp[:0], "Payment pending for order "...)
		tmp = appendOrder(tmp, order)
		tmp = append(tmp, ", confirmation will follow asynchronously"...)
	} else {
		tmp = append(tmp[:0], "Payment authorized for order "...)
		tmp = appendOrder(tmp, order)
		tmp = append(tmp, " in "...)
		tmp = appendInt(tmp, int(pDur*1000))
		tmp = append(tmp, " ms"...)
	}
	g.checkoutLine(t, "INFO", f, thread, "c.s.checkout.client.PaymentClient", tmp)
	t = addSec(t, own/2)
	if r.Float64() < 0.004 {
		tmp = append(tmp[:0], "Order "...)
		tmp = appendOrder(tmp, order)
		tmp = append(tmp, " rejected: cart changed during checkout"...)
		g.checkoutLine(t, "WARN", f, thread, "c.s.checkout.service.OrderService", tmp)
		return 409, t.Sub(at).Seconds(), 77
	}
	tmp = append(tmp[:0], "Order "...)
	tmp = appendOrder(tmp, order)
	tmp = append(tmp, " placed for user "...)
	tmp = appendUser(tmp, f.user)
	tmp2 = appendFixed(tmp2[:0], amount, 2)
	tmp = append(tmp, " total="...)
	tmp = append(tmp, tmp2...)
	tmp = append(tmp, " EUR"...)
	g.checkoutLine(t, "INFO", f, thread, "c.s.checkout.service.OrderService", tmp)
	return 200, t.Sub(at).Seconds(), 310 + r.IntN(200)
}

// checkoutBackground writes scheduled jobs and, when node-2 is starved of
// CPU or the database is down, HikariCP's complaints.
func (g *logGen) checkoutBackground(r *rand.Rand) {
	m := g.s.m
	var tmp []byte
	for _, at := range g.every(5*time.Minute, 40*time.Second) {
		tmp = append(tmp[:0], "Released "...)
		tmp = appendInt(tmp, r.IntN(12))
		tmp = append(tmp, " expired reservations"...)
		g.checkoutLine(at, "INFO", nil, "scheduling-1", "c.s.checkout.jobs.ReservationReaper", tmp)
	}
	for _, at := range g.every(30*time.Minute, 11*time.Minute) {
		tmp = append(tmp[:0], "Published "...)
		tmp = appendInt(tmp, int(m.svc[svcCheckout].served*1800*0.97))
		tmp = append(tmp, " order events to topic orders.v1"...)
		g.checkoutLine(at, "INFO", nil, "scheduling-1", "c.s.checkout.jobs.OutboxPublisher", tmp)
	}
	if share := m.node[node2].share; share < 0.85 {
		for i, n := 0, poisson(r, (1-share)*float64(g.stepMs)/60000); i < n; i++ {
			at := g.at(r)
			tmp = append(tmp[:0], "HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta="...)
			tmp = appendInt(tmp, 1)
			tmp = append(tmp, 'm')
			tmp = appendInt(tmp, 1+r.IntN(40))
			tmp = append(tmp, 's')
			tmp = appendInt(tmp, r.IntN(1000))
			tmp = append(tmp, "ms)."...)
			g.checkoutLine(at, "WARN", nil, "HikariPool-1 housekeeper", "com.zaxxer.hikari.pool.HikariPool", tmp)
		}
	}
	if g.fx[fxDBDown] > 0 {
		for _, at := range g.every(15*time.Second, 9*time.Second) {
			g.checkoutLine(at, "WARN", nil, "nio-8080-exec-1", "o.s.b.a.jdbc.DataSourceHealthIndicator",
				[]byte("DataSource health check failed: java.net.ConnectException: Connection refused (db-prod-1:5432)"))
		}
	}
	for i, n := 0, g.count(r, 0.0008); i < n; i++ {
		at := g.at(r)
		g.checkoutLine(at, "WARN", nil, execThreads[r.IntN(len(execThreads))], "o.h.engine.jdbc.spi.SqlExceptionHelper",
			[]byte("SQL Error: 0, SQLState: 40001"))
	}
	for i, n := 0, g.count(r, 0.001); i < n; i++ {
		at := g.at(r)
		tmp = append(tmp[:0], "Coupon SPRING"...)
		tmp = appendInt(tmp, 10+r.IntN(20))
		tmp = append(tmp, " expired for user "...)
		tmp = appendUser(tmp, zipfish(r, 60000))
		g.checkoutLine(at, "WARN", nil, execThreads[r.IntN(len(execThreads))], "c.s.checkout.service.CouponService", tmp)
	}
}
