package sim

import "time"

// startup writes the lines a service prints when a new process starts (a
// deploy's pods, a restarted container).
func (g *logGen) startup(rs restart) {
	at := rs.at
	step := func(ms int) time.Time { at = at.Add(time.Duration(ms) * time.Millisecond); return at }
	v := rs.version
	switch rs.svc {
	case svcFrontend:
		b := []byte(nil)
		for _, l := range [...]string{
			"[notice] 1#1: using the \"epoll\" event method",
			"[notice] 1#1: nginx/1.27.3",
			"[notice] 1#1: OS: Linux 6.1.0-28-cloud-amd64",
			"[notice] 1#1: start worker processes",
			"[notice] 1#1: start worker process 29",
			"[notice] 1#1: start worker process 30",
		} {
			t := step(3)
			b = appendNginxError(b[:0], t)
			b = append(b, ' ')
			b = append(b, l...)
			g.emit(svcFrontend, srcErr, t, b)
		}
	case svcGateway:
		for _, l := range [...]struct{ msg, fields string }{
			{"starting api-gateway", `,"version":"` + v + `","go":"go1.23.4"`},
			{"loaded routes", `,"routes":42`},
			{"upstreams resolved", `,"upstreams":["catalog","cart","checkout"]`},
			{"listening", `,"addr":":8080"`},
		} {
			t := step(40)
			b := g.zapHead(g.b[:0], t, "info", "cmd/gateway/main.go:61", l.msg)
			b = append(b, l.fields...)
			b = append(b, '}')
			g.b = b
			g.emit(svcGateway, srcMain, t, b)
		}
	case svcCatalog:
		for _, l := range [...]struct{ msg, fields string }{
			{"starting catalog", `,"version":"` + v + `","go":"go1.23.4"`},
			{"connected to postgres", `,"db":"` + catalogDBAddr + `","max_open":40`},
			{"connected to redis", `,"addr":"redis:6379","pool_size":20`},
			{"cache warmup completed", `,"keys":12000`},
			{"listening", `,"addr":":8080"`},
		} {
			t := step(120)
			b := slogHead(g.b[:0], t, "INFO", l.msg)
			b = append(b, l.fields...)
			b = append(b, '}')
			g.b = b
			g.emit(svcCatalog, srcMain, t, b)
		}
	case svcPayments:
		for _, l := range [...]struct{ msg, fields string }{
			{"starting payments", " version=" + v},
			{"provider client configured", " provider=acquirer timeout=10s"},
			{"http server listening", " addr=:8080"},
		} {
			t := step(30)
			b := logfmtHead(g.b[:0], t, "info", l.msg)
			b = append(b, l.fields...)
			g.b = b
			g.emit(svcPayments, srcMain, t, b)
		}
	case svcCheckout:
		for _, l := range [...]struct{ logger, msg string }{
			{"c.s.checkout.CheckoutApplication", "Starting CheckoutApplication " + v + " using Java 21.0.5 with PID 1 (/app/checkout.jar started by app in /app)"},
			{"c.s.checkout.CheckoutApplication", "The following 1 profile is active: \"prod\""},
			{"o.s.b.w.embedded.tomcat.TomcatWebServer", "Tomcat initialized with port 8080 (http)"},
			{"com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Starting..."},
			{"com.zaxxer.hikari.pool.HikariPool", "HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@6d3c5255"},
			{"com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Start completed."},
			{"o.s.b.w.embedded.tomcat.TomcatWebServer", "Tomcat started on port 8080 (http) with context path '/'"},
			{"c.s.checkout.CheckoutApplication", "Started CheckoutApplication in 9.812 seconds (process running for 10.934)"},
		} {
			g.checkoutLine(step(1100), "INFO", nil, "main", l.logger, []byte(l.msg))
		}
	case svcCart:
		for _, l := range [...]struct{ logger, msg string }{
			{"com.shop.cart.CartApplication", "Starting CartApplication " + v + " using Java 17.0.13 with PID 1"},
			{"o.s.b.w.embedded.tomcat.TomcatWebServer", "Tomcat initialized with port(s): 8080 (http)"},
			{"c.s.cart.redis.RedisConfig", "Jedis pool configured: redis:6379 maxTotal=16 maxIdle=8"},
			{"o.s.b.w.embedded.tomcat.TomcatWebServer", "Tomcat started on port(s): 8080 (http) with context path ''"},
			{"com.shop.cart.CartApplication", "Started CartApplication in 7.204 seconds (JVM running for 7.911)"},
		} {
			g.logbackLine(step(1300), "INFO", "main", l.logger, nil, []byte(l.msg))
		}
	}
}
