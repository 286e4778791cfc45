package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

const gib = 1 << 30

// redisState is the cache. demand is the memory the working set would need;
// used is capped by maxmemory, and the overflow is what allkeys-lru evicts.
type redisState struct {
	demand, used, max float64
	hit, evictRate    float64
	clients, opsRate  float64
}

const redisMaxMemory = 2 * gib

func (m *model) redisStep(dt, fxMem float64, init bool, r *rand.Rand) {
	rd := &m.redis
	rd.max = redisMaxMemory
	// Sessions and carts scale with traffic; the fault adds keys written
	// without a TTL.
	target := 0.7*gib + 4.0e6*m.edge + fxMem*1.6*gib
	if init {
		rd.demand = target
	} else {
		rd.demand += (target - rd.demand) * (1 - math.Exp(-dt/420))
	}
	over := max(0, rd.demand-0.97*rd.max) / rd.max
	if over == 0 {
		rd.used = rd.demand * (1 + 0.002*r.NormFloat64())
	} else {
		rd.used = rd.max * (0.97 + 0.02*min(1, over/0.05) + 0.001*r.Float64())
	}
	rd.evictRate = 0
	if over > 0 {
		rd.evictRate = jitter(r, over*rd.max/4096/600, 0.1)
	}
	base := 0.956 - 0.012*min(2, m.edge/peakEdgeRPS) + 0.002*r.NormFloat64()
	rd.hit = min(0.99, base-0.42*min(1, over/0.3))
}

// pool is a client connection pool to postgres (HikariCP, database/sql).
type pool struct {
	min, max, hold float64
	size, active   float64
	pending        float64
}

const (
	poolCheckout = iota
	poolCatalog
	poolCron
	numPools
)

type pgState struct {
	pools                 [numPools]pool
	active, idle, maxConn float64
}

// nodeState is one machine.
type nodeState struct {
	demand, share float64
	load1         float64
	memAvail      float64
}

// cronState is the reports job scheduler on node-2: an hourly job at :05,
// a nightly full report at 02:10, and (in the runaway scenario) a job that
// never ends.
type cronState struct {
	job           string
	running       bool
	runaway       bool
	cpu, qps, mem float64
	jobStart      time.Time
	jobDur        time.Duration
	progress      float64
}

func nightlyJobDuration(seed int64, day time.Time) time.Duration {
	return time.Duration(22+splitmix(uint64(seed)^uint64(day.Unix()))%9) * time.Minute
}

func hourlyJobDuration(seed int64, hour int64) time.Duration {
	return time.Duration(100+splitmix(uint64(seed)^uint64(hour)*0x9e37)%140) * time.Second
}

func (c *cronState) update(t time.Time, fx, progress float64, seed int64) {
	c.running, c.runaway, c.job = false, false, ""
	c.cpu, c.qps, c.mem = 0.01, 0, params[svcCron].memBase
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	hourStart := t.Truncate(time.Hour)
	nightly := day.Add(2*time.Hour + 10*time.Minute)
	nightlyDur := nightlyJobDuration(seed, day)
	switch {
	case !t.Before(nightly) && t.Before(nightly.Add(nightlyDur)):
		c.running, c.job, c.jobStart, c.jobDur = true, "nightly-full", nightly, nightlyDur
		c.cpu, c.qps, c.mem = 1.5, 14, c.mem+700*mib
	case !t.Before(hourStart.Add(5*time.Minute)) && t.Before(hourStart.Add(5*time.Minute+hourlyJobDuration(seed, hourStart.Unix()/3600))):
		c.running, c.job, c.jobStart, c.jobDur = true, "hourly-sales", hourStart.Add(5*time.Minute), hourlyJobDuration(seed, hourStart.Unix()/3600)
		c.cpu, c.qps, c.mem = 0.7, 6, c.mem+250*mib
	}
	if progress >= 0 {
		c.runaway, c.running, c.job = true, true, "export-all"
		c.progress = progress
		c.cpu = max(c.cpu, 0.8+6.5*fx)
		c.qps = max(c.qps, 10)
		c.mem = params[svcCron].memBase + 300*mib + progress*9.4*gib
	}
}

// hpaState is a HorizontalPodAutoscaler's memory of how long utilisation
// has been out of band.
type hpaState struct {
	replicas        int
	highFor, lowFor float64
}

type scaleChange struct {
	svc      int
	from, to int
	util     float64
}

func (m *model) hpaStep(t time.Time, dt float64) {
	m.scaled = m.scaled[:0]
	for _, i := range [...]int{svcGateway, svcCatalog} {
		h := &m.hpa[i]
		p := &params[i]
		st := &m.svc[i]
		util := st.offered / (p.capPerReplica * float64(h.replicas))
		if util > 0.7 {
			h.highFor += dt
		} else {
			h.highFor = 0
		}
		if util < 0.35 {
			h.lowFor += dt
		} else {
			h.lowFor = 0
		}
		switch {
		case h.highFor >= 120 && h.replicas < p.maxReplicas:
			m.scaled = append(m.scaled, scaleChange{i, h.replicas, h.replicas + 1, util})
			h.replicas++
			h.highFor = 0
		case h.lowFor >= 600 && h.replicas > p.minReplicas &&
			st.offered/(p.capPerReplica*float64(h.replicas-1)) < 0.6:
			m.scaled = append(m.scaled, scaleChange{i, h.replicas, h.replicas - 1, util})
			h.replicas--
			h.lowFor = 0
		}
		st.replicas = h.replicas
	}
}

// resources derives CPU, memory, connections and node metrics.
func (m *model) resources(t time.Time, dt float64, fx effects, r *rand.Rand) {
	s := &m.svc
	dbDown := fx[fxDBDown] > 0
	for i := 0; i < numOwn; i++ {
		m.up[i] = true
	}
	m.up[svcPostgres] = !dbDown

	for i := 0; i < numOwn; i++ {
		p := &params[i]
		st := &s[i]
		share := m.node[svcNode[i]].share
		st.cpuUsed = min(st.cpuDemand*share, p.cpuLimit) * (1 + 0.03*r.NormFloat64())
		st.cpuUsed = max(st.cpuUsed, 0.001)
	}

	// JVM heaps fill with allocation and drop at each collection.
	for _, i := range [...]int{svcCheckout, svcCart} {
		k := 0.0005
		if i == svcCart {
			k = 0.00008
		}
		m.heap[i] += dt * (0.001 + k*s[i].served)
		m.heap[i] -= math.Floor(m.heap[i])
	}
	s[svcFrontend].mem = params[svcFrontend].memBase + 0.05*mib*s[svcFrontend].served
	s[svcGateway].mem = params[svcGateway].memBase + 0.4*mib*s[svcGateway].served
	s[svcCheckout].mem = params[svcCheckout].memBase + 160*mib*m.heap[svcCheckout] + 260*mib*fx[fxBadDeploy]
	s[svcCatalog].mem = params[svcCatalog].memBase + 0.5*mib*s[svcCatalog].served
	s[svcCart].mem = params[svcCart].memBase + 120*mib*m.heap[svcCart]
	s[svcPayments].mem = params[svcPayments].memBase + 0.8*mib*s[svcPayments].served
	s[svcRedis].mem = m.redis.used + 28*mib
	s[svcCron].mem = m.cron.mem
	for _, i := range [...]int{svcFrontend, svcGateway, svcCatalog, svcPayments} {
		s[i].mem *= 1 + 0.004*r.NormFloat64()
	}

	// Postgres connections follow Little's law per client pool.
	pg := &m.pg
	pg.maxConn = 100
	if !m.started {
		pg.pools = [numPools]pool{
			poolCheckout: {min: 10, max: 30, hold: 0.03},
			poolCatalog:  {min: 8, max: 40, hold: 0.01},
			poolCron:     {min: 0, max: 10, hold: 0.9},
		}
	}
	pgMean := s[svcPostgres].typ.quantileZ(0) * math.Exp(s[svcPostgres].typ.sigma*s[svcPostgres].typ.sigma/2)
	qps := [numPools]float64{3 * s[svcCheckout].served, m.catalogDBPerReq * s[svcCatalog].served, m.cron.qps}
	pg.active, pg.idle = 0, 0
	for k := range pg.pools {
		pl := &pg.pools[k]
		if dbDown {
			pl.size, pl.active, pl.pending = 0, 0, 0
			continue
		}
		pl.active = qps[k] * (pgMean + pl.hold)
		if k == poolCron && !m.cron.running {
			pl.active = 0
		}
		need := pl.active*1.25 + 1
		lo := pl.min
		if k == poolCron && !m.cron.running {
			lo = 0
		}
		if need > pl.size {
			pl.size = min(pl.max, need)
		} else {
			pl.size += (max(lo, need) - pl.size) * (1 - math.Exp(-dt/600))
		}
		pl.size = max(pl.size, lo)
		pl.pending = max(0, pl.active-pl.max)
		pl.active = min(pl.active, pl.size)
		pg.active += pl.active
		pg.idle += pl.size - pl.active
	}
	pg.active += 1 // the exporter's own query
	s[svcPostgres].mem = params[svcPostgres].memBase + 9*mib*(pg.active+pg.idle)

	rd := &m.redis
	rd.clients = 20 + 16*(1-fx[fxPartition]) + 2
	rd.opsRate = s[svcRedis].served

	for n := range m.node {
		nd := &m.node[n]
		target := nd.demand + 0.15 + 0.05*r.NormFloat64()
		if n == node2 && m.cron.runaway {
			// The job forks workers that queue for CPU: load counts them all.
			target += 3 * fx[fxCron]
		}
		if !m.started {
			nd.load1 = target
		} else {
			nd.load1 += (target - nd.load1) * (1 - math.Exp(-dt/60))
		}
		nd.load1 = max(nd.load1, 0.01)
		var used float64
		for i := 0; i < numOwn; i++ {
			if svcNode[i] == n {
				used += s[i].mem
			}
		}
		nd.memAvail = max(180*mib, nodeMemoryBytes-used-2.6*gib*(1+0.01*r.NormFloat64()))
	}
}
