package sim

import (
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// family is a metric family as OpenMetrics groups it.
type family struct {
	name string // the family name (counters without _total)
	typ  string // counter or gauge
	help string
}

// seriesDef is one exported series. Label sets are built once, at New, and
// shared by every sample of the series.
type seriesDef struct {
	labels  telemetry.Labels
	family  int
	svc     int // -1 for node series
	node    int // node index for node series
	counter bool
	// csvDir and csvName place the gauge's NAB-style CSV file.
	csvDir, csvName string
	// omPrefix is the OpenMetrics line up to the value: name{labels} .
	omPrefix []byte
}

// Series kinds, so the per-step fill can address series without lookups.
type seriesKey struct {
	metric int
	svc    int
	extra  int // code index, quantile index, state or node
}

const (
	mHTTPRequests = iota
	mHTTPDuration
	mInFlight
	mUp
	mCPU
	mRSS
	mHikariActive
	mHikariPending
	mSQLInUse
	mRedisUsed
	mRedisMax
	mRedisEvicted
	mRedisHit
	mRedisClients
	mRedisCommands
	mPGActivity
	mPGMaxConn
	mPGCommits
	mJobsRunning
	mNodeLoad
	mNodeMemAvail
	numMetrics
)

var families = [numMetrics]family{
	mHTTPRequests:  {"http_requests", "counter", "Total HTTP requests served, by status code."},
	mHTTPDuration:  {"http_request_duration_seconds", "gauge", "Request latency quantiles over the last minute."},
	mInFlight:      {"http_requests_in_flight", "gauge", "Requests currently being served."},
	mUp:            {"up", "gauge", "Whether the scrape target is up."},
	mCPU:           {"process_cpu_usage_ratio", "gauge", "CPU used as a share of the process' CPU limit."},
	mRSS:           {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes."},
	mHikariActive:  {"hikaricp_connections_active", "gauge", "Active connections in the pool."},
	mHikariPending: {"hikaricp_connections_pending", "gauge", "Threads waiting for a connection."},
	mSQLInUse:      {"go_sql_stats_connections_in_use", "gauge", "Connections currently in use."},
	mRedisUsed:     {"redis_memory_used_bytes", "gauge", "Memory used by redis."},
	mRedisMax:      {"redis_memory_max_bytes", "gauge", "maxmemory setting."},
	mRedisEvicted:  {"redis_evicted_keys", "counter", "Keys evicted because of maxmemory."},
	mRedisHit:      {"redis_keyspace_hit_ratio", "gauge", "Keyspace hits over hits plus misses in the last minute."},
	mRedisClients:  {"redis_connected_clients", "gauge", "Connected clients."},
	mRedisCommands: {"redis_commands_processed", "counter", "Commands processed."},
	mPGActivity:    {"pg_stat_activity_count", "gauge", "Backends by state."},
	mPGMaxConn:     {"pg_settings_max_connections", "gauge", "max_connections setting."},
	mPGCommits:     {"pg_stat_database_xact_commit", "counter", "Transactions committed."},
	mJobsRunning:   {"reports_jobs_running", "gauge", "Report jobs currently running."},
	mNodeLoad:      {"node_load1", "gauge", "1m load average."},
	mNodeMemAvail:  {"node_memory_MemAvailable_bytes", "gauge", "Memory available in bytes."},
}

// httpCodes are the status codes each HTTP service reports.
var httpCodes = [numSvc][]string{
	svcFrontend: {"200", "304", "404", "499", "500", "502", "503", "504"},
	svcGateway:  {"200", "401", "404", "429", "500", "502", "504"},
	svcCheckout: {"200", "400", "409", "500"},
	svcCatalog:  {"200", "404", "500"},
	svcCart:     {"200", "400", "500"},
	svcPayments: {"200", "402", "500"},
}

// clientShare is each service's non-5xx, non-200 code shares.
var clientShare = [numSvc]map[string]float64{
	svcFrontend: {"304": 0.06, "404": 0.012, "499": 0.002},
	svcGateway:  {"401": 0.008, "404": 0.005, "429": 0.001},
	svcCheckout: {"400": 0.01, "409": 0.004},
	svcCatalog:  {"404": 0.02},
	svcCart:     {"400": 0.006},
	svcPayments: {"402": 0.03},
}

var quantileNames = [3]string{"0.5", "0.95", "0.99"}

func isHTTP(i int) bool { return httpCodes[i] != nil }

// buildSeries lays out every series in a fixed order and returns the index
// of each, keyed by kind.
func buildSeries() ([]seriesDef, map[seriesKey]int) {
	var out []seriesDef
	idx := map[seriesKey]int{}
	add := func(k seriesKey, svc int, extra ...string) {
		f := families[k.metric]
		name := f.name
		if f.typ == "counter" {
			name += "_total"
		}
		nv := []string{"__name__", name}
		sd := seriesDef{family: k.metric, svc: svc, node: -1, counter: f.typ == "counter"}
		if svc >= 0 {
			nv = append(nv, "service", svcNames[svc], "instance", svcInstances[svc], "job", svcNames[svc])
			sd.csvDir = svcNames[svc]
		} else {
			n := k.extra
			sd.node = n
			nv = append(nv, "node", nodeNames[n], "instance", nodeNames[n]+":9100", "job", "node")
			sd.csvDir = "node"
		}
		nv = append(nv, extra...)
		sd.labels = telemetry.LabelsFromStrings(nv...)
		var fn strings.Builder
		fn.WriteString(name)
		if svc < 0 {
			fn.WriteString("_" + nodeNames[k.extra])
		}
		for i := 0; i < len(extra); i += 2 {
			fn.WriteString("_" + extra[i] + "-" + extra[i+1])
		}
		fn.WriteString(".csv")
		sd.csvName = fn.String()
		sd.omPrefix = omPrefix(sd.labels)
		idx[k] = len(out)
		out = append(out, sd)
	}
	for i := 0; i < numOwn; i++ {
		if !isHTTP(i) {
			continue
		}
		for c, code := range httpCodes[i] {
			add(seriesKey{mHTTPRequests, i, c}, i, "code", code)
		}
		for q, qn := range quantileNames {
			add(seriesKey{mHTTPDuration, i, q}, i, "quantile", qn)
		}
		add(seriesKey{mInFlight, i, 0}, i)
	}
	for i := 0; i < numOwn; i++ {
		add(seriesKey{mUp, i, 0}, i)
		add(seriesKey{mCPU, i, 0}, i)
		add(seriesKey{mRSS, i, 0}, i)
	}
	add(seriesKey{mHikariActive, svcCheckout, 0}, svcCheckout, "pool", "HikariPool-1")
	add(seriesKey{mHikariPending, svcCheckout, 0}, svcCheckout, "pool", "HikariPool-1")
	add(seriesKey{mSQLInUse, svcCatalog, 0}, svcCatalog, "db_name", "shop")
	for _, m := range []int{mRedisUsed, mRedisMax, mRedisEvicted, mRedisHit, mRedisClients, mRedisCommands} {
		add(seriesKey{m, svcRedis, 0}, svcRedis)
	}
	add(seriesKey{mPGActivity, svcPostgres, 0}, svcPostgres, "datname", "shop", "state", "active")
	add(seriesKey{mPGActivity, svcPostgres, 1}, svcPostgres, "datname", "shop", "state", "idle")
	add(seriesKey{mPGMaxConn, svcPostgres, 0}, svcPostgres)
	add(seriesKey{mPGCommits, svcPostgres, 0}, svcPostgres, "datname", "shop")
	add(seriesKey{mJobsRunning, svcCron, 0}, svcCron)
	for n := 0; n < numNodes; n++ {
		add(seriesKey{mNodeLoad, -1, n}, -1)
		add(seriesKey{mNodeMemAvail, -1, n}, -1)
		add(seriesKey{mUp, -1, n}, -1)
	}
	return out, idx
}

func omPrefix(ls telemetry.Labels) []byte {
	var b []byte
	b = append(b, ls.Get("__name__")...)
	b = append(b, '{')
	first := true
	for _, l := range ls {
		if l.Name == "__name__" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, l.Name...)
		b = append(b, '=', '"')
		b = append(b, l.Value...)
		b = append(b, '"')
	}
	return append(b, '}', ' ')
}

// scrape holds the values of every series at one step. present is false for
// series whose target could not be scraped.
type scrape struct {
	vals    []float64
	present []bool
}

// fillScrape writes the model's state into sc: counters advance by the
// step's increments after being read, gauges are instantaneous.
func (s *Sim) fillScrape(sc *scrape, fx effects, r *rand.Rand) {
	m := s.m
	dt := s.opts.Step.Seconds()
	set := func(k seriesKey, v float64) {
		i := s.seriesIdx[k]
		sc.vals[i] = roundSig(v, 6)
		sc.present[i] = true
	}
	count := func(k seriesKey, inc float64) {
		i := s.seriesIdx[k]
		if s.k == 0 {
			// Processes have been up for a while when the simulation starts.
			s.counts[i] = stochRound(r, inc*float64(2*24*time.Hour/s.opts.Step)*(0.5+r.Float64()))
		}
		sc.vals[i] = float64(s.counts[i])
		sc.present[i] = true
		s.counts[i] += stochRound(r, inc)
	}
	for i := range sc.present {
		sc.present[i] = false
	}
	for i := 0; i < numOwn; i++ {
		st := &m.svc[i]
		if isHTTP(i) {
			shares := httpShares(i, st, fx)
			for c := range httpCodes[i] {
				count(seriesKey{mHTTPRequests, i, c}, st.served*dt*shares[c])
			}
			// Exporters report quantiles over a sliding window, so they wobble.
			q := st.q
			for k := range q {
				q[k] *= math.Exp(0.05 * r.NormFloat64())
			}
			q[1] = max(q[1], q[0]*1.05)
			q[2] = max(q[2], q[1]*1.05)
			for k := range q {
				set(seriesKey{mHTTPDuration, i, k}, q[k])
			}
			set(seriesKey{mInFlight, i, 0}, math.Round(st.inflight*jitter(r, 1, 0.2)))
		}
		up := 0.0
		if m.up[i] {
			up = 1
		}
		set(seriesKey{mUp, i, 0}, up)
		if i == svcPostgres && !m.up[i] {
			continue
		}
		set(seriesKey{mCPU, i, 0}, min(1, st.cpuUsed/params[i].cpuLimit))
		set(seriesKey{mRSS, i, 0}, math.Round(st.mem))
	}
	pl := &m.pg.pools
	set(seriesKey{mHikariActive, svcCheckout, 0}, math.Round(pl[poolCheckout].active*jitter(r, 1, 0.1)))
	set(seriesKey{mHikariPending, svcCheckout, 0}, math.Round(pl[poolCheckout].pending))
	set(seriesKey{mSQLInUse, svcCatalog, 0}, math.Round(pl[poolCatalog].active*jitter(r, 1, 0.1)))
	rd := &m.redis
	set(seriesKey{mRedisUsed, svcRedis, 0}, math.Round(rd.used))
	set(seriesKey{mRedisMax, svcRedis, 0}, rd.max)
	count(seriesKey{mRedisEvicted, svcRedis, 0}, rd.evictRate*dt)
	set(seriesKey{mRedisHit, svcRedis, 0}, rd.hit)
	set(seriesKey{mRedisClients, svcRedis, 0}, math.Round(rd.clients))
	count(seriesKey{mRedisCommands, svcRedis, 0}, rd.opsRate*dt)
	if m.up[svcPostgres] {
		set(seriesKey{mPGActivity, svcPostgres, 0}, math.Round(m.pg.active))
		set(seriesKey{mPGActivity, svcPostgres, 1}, math.Round(m.pg.idle))
		set(seriesKey{mPGMaxConn, svcPostgres, 0}, m.pg.maxConn)
		commits := m.svc[svcCheckout].served*dt*1.02 + m.svc[svcCart].served*dt*0.05 + m.cron.qps*dt*0.1
		count(seriesKey{mPGCommits, svcPostgres, 0}, commits)
	}
	running := 0.0
	if m.cron.running {
		running = 1
	}
	set(seriesKey{mJobsRunning, svcCron, 0}, running)
	for n := range m.node {
		set(seriesKey{mNodeLoad, -1, n}, m.node[n].load1)
		set(seriesKey{mNodeMemAvail, -1, n}, math.Round(m.node[n].memAvail))
		set(seriesKey{mUp, -1, n}, 1)
	}
}

// httpShares splits a service's served requests over its status codes.
func httpShares(i int, st *svcState, fx effects) []float64 {
	codes := httpCodes[i]
	out := make([]float64, len(codes))
	ok := 1 - st.err
	rest := ok
	for c, code := range codes {
		switch code {
		case "200":
		case "500":
			out[c] = st.codes[c500]
		case "502":
			out[c] = st.codes[c502]
		case "503":
			out[c] = st.codes[c503]
		case "504":
			out[c] = st.codes[c504]
		default:
			share := clientShare[i][code]
			switch {
			case code == "499":
				// Clients give up on slow pages.
				share += 0.05 * min(1, max(0, st.q[1]-1.5)/5)
			case code == "429":
				share += 0.02 * fx[fxSurge]
			}
			out[c] = ok * share
			rest -= out[c]
		}
	}
	for c, code := range codes {
		if code == "200" {
			out[c] = max(0, rest)
		}
	}
	return out
}
