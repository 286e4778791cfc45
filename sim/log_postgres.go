package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// Postgres logs with log_line_prefix = '%m [%p] %q%u@%d ', log_connections
// and log_disconnections on, log_min_duration_statement = 500ms and
// log_autovacuum_min_duration = 0. Continuation lines (DETAIL, STATEMENT,
// autovacuum statistics) are separate physical lines.

var pgUsers = [numPools]string{"checkout", "catalog", "reports"}
var pgHosts = [numPools]string{"10.0.2.31", "10.0.3.21", "10.0.2.40"}

func pgHead(b []byte, at time.Time, pid int, user string) []byte {
	b = appendSpaced(b, at, 3)
	b = append(b, " UTC ["...)
	b = appendInt(b, pid)
	b = append(b, "] "...)
	if user != "" {
		b = append(b, user...)
		b = append(b, "@shop "...)
	}
	return b
}

func (g *logGen) pgLine(at time.Time, pid int, user, sev, msg string, extra ...[]byte) {
	if g.s.faultActive(fxDBDown, at) {
		return
	}
	g.pgWrite(at, pid, user, sev, msg, extra...)
}

func (g *logGen) pgWrite(at time.Time, pid int, user, sev, msg string, extra ...[]byte) {
	b := pgHead(g.b[:0], at, pid, user)
	b = append(b, sev...)
	b = append(b, ":  "...)
	b = append(b, msg...)
	for _, e := range extra {
		b = append(b, e...)
	}
	g.b = b
	g.emit(svcPostgres, srcMain, at, b)
}

var slowQueries = [...]struct {
	user        int
	sql, params string
}{
	{poolCatalog, "SELECT p.id, p.name, p.price, i.stock FROM products p JOIN inventory i ON i.product_id = p.id WHERE p.category_id = $1 ORDER BY p.popularity DESC LIMIT 48 OFFSET $2", "$1 = '17', $2 = '96'"},
	{poolCatalog, "SELECT id, name, price FROM products WHERE search_vector @@ plainto_tsquery('english', $1) ORDER BY ts_rank(search_vector, plainto_tsquery('english', $1)) DESC LIMIT 48", "$1 = 'running shoes'"},
	{poolCatalog, "SELECT r.rating, r.body, r.created_at FROM reviews r WHERE r.product_id = $1 ORDER BY r.created_at DESC LIMIT 20", "$1 = '20417'"},
	{poolCheckout, "UPDATE inventory SET reserved = reserved + $1 WHERE product_id = $2 AND stock - reserved >= $1", "$1 = '2', $2 = '10433'"},
	{poolCheckout, "INSERT INTO orders (id, user_id, total, currency, status, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6)", "$1 = '58120443', $2 = '141207', $3 = '59.90', $4 = 'EUR', $5 = 'pending', $6 = '9f0c1e2a'"},
	{poolCron, "SELECT date_trunc('hour', o.created_at) AS h, sum(o.total), count(*) FROM orders o JOIN order_items oi ON oi.order_id = o.id WHERE o.created_at >= $1 GROUP BY 1 ORDER BY 1", "$1 = '2026-01-04 00:00:00+00'"},
}

// postgresBackground writes checkpoints, connection churn, slow queries,
// autovacuum and the occasional error; around an outage it writes the
// shutdown and the recovery and nothing in between.
func (g *logGen) postgresBackground(r *rand.Rand) {
	m := g.s.m
	end := g.t0.Add(g.s.opts.Step)
	for i := range g.s.faults {
		f := &g.s.faults[i]
		if f.def.fx != fxDBDown {
			continue
		}
		if !f.Onset.Before(g.t0) && f.Onset.Before(end) {
			g.pgShutdown(r, f.Onset)
		}
		if !f.end.Before(g.t0) && f.end.Before(end) {
			g.pgStartup(f.Onset, f.end)
		}
	}
	for _, at := range g.every(5*time.Minute, 0) {
		g.pgLine(at, 58, "", "LOG", "checkpoint starting: time")
		w := 1500 + r.IntN(6000)
		write := 150 + 120*r.Float64()
		done := addSec(at, write+0.05)
		var e []byte
		e = append(e, "checkpoint complete: wrote "...)
		e = appendInt(e, w)
		e = append(e, " buffers ("...)
		e = appendFixed(e, float64(w)/163.84, 1)
		e = append(e, "%); 0 WAL file(s) added, 0 removed, "...)
		e = appendInt(e, 1+r.IntN(3))
		e = append(e, " recycled; write="...)
		e = appendFixed(e, write, 3)
		e = append(e, " s, sync=0.0"...)
		e = appendInt(e, 10+r.IntN(80))
		e = append(e, " s, total="...)
		e = appendFixed(e, write+0.06, 3)
		e = append(e, " s; sync files="...)
		e = appendInt(e, 20+r.IntN(40))
		e = append(e, ", longest=0.004 s, average=0.001 s; distance="...)
		e = appendInt(e, w*8)
		e = append(e, " kB, estimate="...)
		e = appendInt(e, w*8+r.IntN(2000))
		e = append(e, " kB"...)
		g.pgLine(done, 58, "", "LOG", "", e)
	}

	// Connections: pools growing and HikariCP's maxLifetime recycling.
	if g.s.k == 0 {
		// The pools were open before the simulation started.
		for k := range m.pg.pools {
			g.pgPrev[k] = m.pg.pools[k].size
		}
	}
	for k := range m.pg.pools {
		size := m.pg.pools[k].size
		grow := max(0, size-g.pgPrev[k])
		shrink := max(0, g.pgPrev[k]-size)
		g.pgPrev[k] = size
		churn := size * float64(g.stepMs) / 1800000
		for i, n := 0, poisson(r, grow+churn); i < n; i++ {
			g.pgConnect(r, k, g.at(r))
		}
		for i, n := 0, poisson(r, shrink+churn); i < n; i++ {
			g.pgDisconnect(r, k, g.at(r))
		}
	}

	pg := &m.svc[svcPostgres]
	qf := queueFactor(pg.rho) - 1
	slowRate := 0.002 + 0.0004*pg.served*qf
	if m.cron.running {
		slowRate += 0.02
	}
	for i, n := 0, g.count(r, slowRate); i < n; i++ {
		at := g.at(r)
		q := slowQueries[r.IntN(len(slowQueries)-1)]
		if m.cron.running && r.IntN(3) == 0 {
			q = slowQueries[len(slowQueries)-1]
		}
		pid := 1000 + r.IntN(60000)
		var e []byte
		e = append(e, "duration: "...)
		e = appendFixed(e, 500+jitter(r, 300+4000*qf, 0.6), 3)
		e = append(e, " ms  execute <unnamed>: "...)
		e = append(e, q.sql...)
		g.pgLine(at, pid, pgUsers[q.user], "LOG", "", e)
		g.pgLine(at, pid, pgUsers[q.user], "DETAIL", "parameters: "+q.params)
	}
	for i, n := 0, g.count(r, 0.004*qf); i < n; i++ {
		at := g.at(r)
		pid := 1000 + r.IntN(60000)
		g.pgLine(at, pid, "catalog", "ERROR", "canceling statement due to statement timeout")
		g.pgLine(at, pid, "catalog", "STATEMENT", slowQueries[0].sql)
	}
	for i, n := 0, g.count(r, 0.0015); i < n; i++ {
		at := g.at(r)
		tables := [...]string{"orders", "order_items", "inventory", "carts_archive", "reviews"}
		tbl := tables[r.IntN(len(tables))]
		pid := 1000 + r.IntN(60000)
		g.pgLine(at, pid, "", "LOG", "automatic vacuum of table \"shop.public."+tbl+"\": index scans: 1")
		for _, l := range [...]string{
			"\tpages: 0 removed, 18234 remain, 3121 scanned (17.12% of total)",
			"\ttuples: 2211 removed, 1093311 remain, 0 are dead but not yet removable",
			"\tindex scan needed: 1420 pages from table (7.79% of total) had 2211 dead item identifiers removed",
			"\tavg read rate: 2.113 MB/s, avg write rate: 1.870 MB/s",
			"\tsystem usage: CPU: user: 0.21 s, system: 0.02 s, elapsed: 1.84 s",
		} {
			g.b = append(g.b[:0], l...)
			if !g.s.faultActive(fxDBDown, at) {
				g.emit(svcPostgres, srcMain, at, g.b)
			}
		}
	}
	for i, n := 0, g.count(r, 0.001); i < n; i++ {
		at := g.at(r)
		g.pgLine(at, 1000+r.IntN(60000), "", "LOG", "automatic analyze of table \"shop.public.products\"")
	}
	for i, n := 0, g.count(r, 0.0008); i < n; i++ {
		at := g.at(r)
		pid := 1000 + r.IntN(60000)
		var e []byte
		e = append(e, "Key (idempotency_key)=("...)
		e = appendHex(e, r.Uint64(), 8)
		e = append(e, ") already exists."...)
		g.pgLine(at, pid, "checkout", "ERROR", "duplicate key value violates unique constraint \"orders_idempotency_key_key\"")
		g.pgLine(at, pid, "checkout", "DETAIL", "", e)
		g.pgLine(at, pid, "checkout", "STATEMENT", slowQueries[4].sql)
	}
	for i, n := 0, g.count(r, 0.0005); i < n; i++ {
		g.pgLine(g.at(r), 1000+r.IntN(60000), "catalog", "LOG", "could not receive data from client: Connection reset by peer")
	}
	for i, n := 0, g.count(r, 0.0002); i < n; i++ {
		g.pgLine(g.at(r), 1000+r.IntN(60000), "checkout", "FATAL", "terminating connection due to idle-in-transaction timeout")
	}
}

func (g *logGen) pgConnect(r *rand.Rand, k int, at time.Time) {
	pid := 1000 + r.IntN(60000)
	var e []byte
	e = append(e, "connection received: host="...)
	e = append(e, pgHosts[k]...)
	e = append(e, " port="...)
	e = appendInt(e, 32768+r.IntN(28000))
	g.pgLine(at, pid, "[unknown]", "LOG", "", e)
	g.pgLine(addSec(at, 0.004), pid, pgUsers[k], "LOG", "connection authorized: user="+pgUsers[k]+" database=shop application_name="+pgUsers[k])
}

func (g *logGen) pgDisconnect(r *rand.Rand, k int, at time.Time) {
	pid := 1000 + r.IntN(60000)
	d := time.Duration(60+r.IntN(1800)) * time.Second
	var e []byte
	e = append(e, "disconnection: session time: "...)
	e = appendInt(e, int(d.Hours()))
	e = append(e, ':')
	e = appendPad(e, int(math.Mod(d.Minutes(), 60)), 2)
	e = append(e, ':')
	e = appendPad(e, int(math.Mod(d.Seconds(), 60)), 2)
	e = append(e, '.')
	e = appendPad(e, r.IntN(1000), 3)
	e = append(e, " user="...)
	e = append(e, pgUsers[k]...)
	e = append(e, " database=shop host="...)
	e = append(e, pgHosts[k]...)
	e = append(e, " port="...)
	e = appendInt(e, 32768+r.IntN(28000))
	g.pgLine(at, pid, pgUsers[k], "LOG", "", e)
}

// pgShutdown writes a fast shutdown at the start of the outage, the last
// lines postgres writes until it comes back.
func (g *logGen) pgShutdown(r *rand.Rand, onset time.Time) {
	at := onset
	lines := []struct {
		pid       int
		user, sev string
		msg       string
	}{
		{1, "", "LOG", "received fast shutdown request"},
		{1, "", "LOG", "aborting any active transactions"},
		{1000 + r.IntN(60000), "catalog", "FATAL", "terminating connection due to administrator command"},
		{1000 + r.IntN(60000), "checkout", "FATAL", "terminating connection due to administrator command"},
		{1000 + r.IntN(60000), "checkout", "FATAL", "terminating connection due to administrator command"},
		{1, "", "LOG", "background worker \"logical replication launcher\" (PID 61) exited with exit code 1"},
		{58, "", "LOG", "shutting down"},
		{58, "", "LOG", "checkpoint starting: shutdown immediate"},
		{58, "", "LOG", "checkpoint complete: wrote 412 buffers (2.5%); 0 WAL file(s) added, 0 removed, 0 recycled; write=0.021 s, sync=0.007 s, total=0.041 s; sync files=38, longest=0.002 s, average=0.001 s; distance=3296 kB, estimate=10120 kB"},
		{1, "", "LOG", "database system is shut down"},
	}
	for i, l := range lines {
		g.pgWrite(at.Add(time.Duration(i*80)*time.Millisecond), l.pid, l.user, l.sev, l.msg)
	}
}

func (g *logGen) pgStartup(down, at time.Time) {
	var was []byte
	was = append(was, "database system was shut down at "...)
	was = appendSpaced(was, down.Add(-100*time.Millisecond), 0)
	was = append(was, " UTC"...)
	lines := []string{
		"starting PostgreSQL 15.10 (Debian 15.10-1.pgdg120+1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit",
		"listening on IPv4 address \"0.0.0.0\", port 5432",
		"listening on IPv6 address \"::\", port 5432",
		"listening on Unix socket \"/var/run/postgresql/.s.PGSQL.5432\"",
		string(was),
		"database system is ready to accept connections",
	}
	for i, l := range lines {
		pid := 1
		if i == 4 {
			pid = 27
		}
		g.pgLine(at.Add(time.Duration(i*40)*time.Millisecond), pid, "", "LOG", l)
	}
}
