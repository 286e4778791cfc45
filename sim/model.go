package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// svcParams are the fixed characteristics of one service.
type svcParams struct {
	// capPerReplica is the request rate one replica serves at utilisation 1.
	capPerReplica            float64
	minReplicas, maxReplicas int
	// s is the own (non-downstream) median latency at low load; tail is the
	// own p99/p50 ratio.
	s, tail float64
	baseErr float64
	// CPU demand in cores: cpuBase + cpuPerReq × served rate.
	cpuBase, cpuPerReq, cpuLimit float64
	memBase                      float64
	// timeout is how long the service waits on a callee before giving up.
	timeout float64
}

const mib = 1 << 20

// surgeExtra is the traffic a surge adds at full strength, as a multiple of
// the evening peak: enough to saturate the gateway at any time of day.
const surgeExtra = 1.3

var params = [numSvc]svcParams{
	svcFrontend: {capPerReplica: 3000, minReplicas: 1, maxReplicas: 1, s: 0.0006, tail: 3, cpuBase: 0.02, cpuPerReq: 0.0004, cpuLimit: 1, memBase: 46 * mib, timeout: 30},
	svcGateway:  {capPerReplica: 75, minReplicas: 2, maxReplicas: 4, s: 0.003, tail: 4, baseErr: 0.0002, cpuBase: 0.05, cpuPerReq: 0.0025, cpuLimit: 2, memBase: 110 * mib, timeout: 10},
	svcCheckout: {capPerReplica: 8, minReplicas: 2, maxReplicas: 2, s: 0.055, tail: 5, baseErr: 0.001, cpuBase: 0.12, cpuPerReq: 0.06, cpuLimit: 2, memBase: 780 * mib, timeout: 5},
	svcCatalog:  {capPerReplica: 40, minReplicas: 2, maxReplicas: 5, s: 0.006, tail: 5, baseErr: 0.0005, cpuBase: 0.05, cpuPerReq: 0.006, cpuLimit: 2, memBase: 160 * mib, timeout: 3},
	svcCart:     {capPerReplica: 40, minReplicas: 3, maxReplicas: 3, s: 0.005, tail: 5, baseErr: 0.0008, cpuBase: 0.08, cpuPerReq: 0.008, cpuLimit: 2, memBase: 620 * mib, timeout: 2},
	svcPayments: {capPerReplica: 15, minReplicas: 2, maxReplicas: 2, s: 0.012, tail: 4, baseErr: 0.0005, cpuBase: 0.03, cpuPerReq: 0.012, cpuLimit: 1, memBase: 90 * mib, timeout: 10},
	svcPostgres: {capPerReplica: 175, minReplicas: 1, maxReplicas: 1, s: 0.0025, tail: 8, baseErr: 0.0001, cpuBase: 0.1, cpuPerReq: 0.009, cpuLimit: 4, memBase: 1350 * mib},
	svcRedis:    {capPerReplica: 40000, minReplicas: 1, maxReplicas: 1, s: 0.0003, tail: 5, cpuBase: 0.02, cpuPerReq: 0.00002, cpuLimit: 1},
	svcCron:     {cpuLimit: nodeCPUs, memBase: 140 * mib},
	svcProvider: {capPerReplica: 1e9, minReplicas: 1, maxReplicas: 1, s: 0.17, tail: 5, baseErr: 0.003},
}

// Error code slots tracked per service.
const (
	c500 = iota
	c502
	c503
	c504
	numCodes5xx
)

// svcState is one service's condition during one step.
type svcState struct {
	offered, served, dropped float64
	rho                      float64 // utilisation at offered load, capped
	replicas                 int
	own                      lnorm // own latency (excluding callees)
	dist                     latDist
	typ                      lnorm      // fitted non-timeout latency, what callers compose
	q                        [3]float64 // p50, p95, p99 including timeouts
	errOwn                   float64
	err                      float64 // 5xx share of served requests
	codes                    [numCodes5xx]float64
	fail                     float64 // probability that a call to it fails
	dropFrac                 float64
	cpuDemand, cpuUsed       float64
	mem                      float64
	inflight                 float64
}

// model is the simulated system's state. It advances one step at a time and
// is only touched by the goroutine calling Sim.Advance.
type model struct {
	seed int64
	step time.Duration
	tr   traffic
	edge float64
	svc  [numSvc]svcState
	// edgeCall is the per-call failure probability of each edge, edgeFail
	// the resulting request failure probability of the caller.
	edgeCall, edgeFail [numEdges]float64
	catalogDBPerReq    float64
	redis              redisState
	pg                 pgState
	node               [numNodes]nodeState
	cron               cronState
	heap               [numSvc]float64 // JVM heap sawtooth phase in [0,1)
	hpa                [numSvc]hpaState
	scaled             []scaleChange // HPA changes of the last step
	up                 [numSvc]bool
	started            bool
}

func newModel(seed int64, step time.Duration) *model {
	m := &model{seed: seed, step: step}
	for i := range m.svc {
		m.svc[i].replicas = params[i].minReplicas
		m.hpa[i].replicas = params[i].minReplicas
	}
	m.heap[svcCheckout], m.heap[svcCart] = 0.3, 0.6
	return m
}

// advance computes the system's state for the step starting at t.
func (m *model) advance(t time.Time, fx effects, cronProgress float64, r *rand.Rand) {
	dt := m.step.Seconds()
	m.edge = m.tr.rate(t, m.step, r) + fx[fxSurge]*surgeExtra*peakEdgeRPS
	m.cron.update(t, fx[fxCron], cronProgress, m.seed)
	m.redisStep(dt, fx[fxRedisMemory], !m.started, r)
	m.loads(fx)
	m.hpaStep(t, dt)
	m.latencyAndErrors(fx)
	m.resources(t, dt, fx, r)
	m.started = true
}

// loads propagates request rates along the call edges, callers first, and
// applies capacity: what a saturated service cannot take is dropped and
// shows up as failures at its callers.
func (m *model) loads(fx effects) {
	s := &m.svc
	dbDown := fx[fxDBDown] > 0
	m.catalogDBPerReq = 0.25 + 2.9*(1-m.redis.hit)

	// A first pass at nominal load gives each node's CPU demand, from which
	// the CPU share every co-located service gets.
	off := [numSvc]float64{}
	off[svcFrontend] = m.edge
	off[svcGateway] = 0.85 * m.edge
	off[svcCatalog] = 0.6 * off[svcGateway]
	off[svcCheckout] = 0.05 * off[svcGateway]
	off[svcPayments] = 0.9 * off[svcCheckout]
	off[svcCart] = 0.25*off[svcGateway] + off[svcCheckout]
	off[svcRedis] = 2*off[svcCatalog] + 2*off[svcCart]
	off[svcPostgres] = m.catalogDBPerReq*off[svcCatalog] + 3*off[svcCheckout] + m.cron.qps
	var demand [numNodes]float64
	for i := 0; i < numOwn; i++ {
		p := &params[i]
		d := p.cpuBase + p.cpuPerReq*off[i]
		if i == svcCheckout {
			d *= 1 + 0.4*fx[fxBadDeploy]
		}
		if i == svcCron {
			d = m.cron.cpu
		}
		if i == svcPostgres && dbDown {
			d = 0
		}
		s[i].cpuDemand = d
		demand[svcNode[i]] += d
	}
	for n := range m.node {
		m.node[n].demand = demand[n]
		m.node[n].share = min(1, nodeCPUs/max(demand[n], 1e-9))
	}

	serve := func(i int, offered float64) {
		st := &s[i]
		st.offered = offered
		capacity := params[i].capPerReplica * float64(st.replicas)
		if n := svcNode[i]; n >= 0 && i != svcCron {
			capacity *= m.node[n].share
		}
		if i == svcPostgres && dbDown {
			capacity = 0
		}
		st.served = min(offered, 0.985*capacity)
		st.dropped = offered - st.served
		st.rho = 0
		if capacity > 0 {
			st.rho = min(offered/capacity, 0.985)
		}
		st.dropFrac = 0
		if offered > 0 {
			st.dropFrac = st.dropped / offered
		}
	}
	serve(svcFrontend, m.edge)
	serve(svcGateway, 0.85*s[svcFrontend].served)
	serve(svcCatalog, 0.6*s[svcGateway].served)
	serve(svcCheckout, 0.05*s[svcGateway].served)
	serve(svcPayments, 0.9*s[svcCheckout].served)
	serve(svcCart, 0.25*s[svcGateway].served+s[svcCheckout].served)
	cartRedis := 2 * s[svcCart].served * (1 - 0.97*fx[fxPartition])
	serve(svcRedis, 2*s[svcCatalog].served+cartRedis)
	serve(svcPostgres, m.catalogDBPerReq*s[svcCatalog].served+3*s[svcCheckout].served+m.cron.qps)
	serve(svcProvider, s[svcPayments].served)
	s[svcCron].served = m.cron.qps
}

// latencyAndErrors composes latency and failure callees first.
func (m *model) latencyAndErrors(fx effects) {
	s := &m.svc
	order := [...]int{svcProvider, svcPostgres, svcRedis, svcPayments, svcCart, svcCatalog, svcCheckout}
	for _, i := range order {
		p := &params[i]
		st := &s[i]
		scale := p.s * queueFactor(st.rho)
		tail := p.tail * (1 + 0.6*st.rho*st.rho)
		if n := svcNode[i]; n >= 0 {
			// CPU-starved work runs slower, not only queues longer.
			scale /= math.Pow(m.node[n].share, 0.8)
		}
		switch i {
		case svcCheckout:
			scale *= 1 + 4.5*fx[fxBadDeploy]
		case svcCatalog:
			scale *= 1 + 0.12*fx[fxSilence]
		case svcPostgres:
			// More cache misses mean more heavy, unindexed-ish queries.
			scale *= 1 + 0.3*max(0, m.catalogDBPerReq-0.44)
		}
		st.own = lnFromQ(scale, scale*tail)
		st.errOwn = p.baseErr
		if i == svcCheckout {
			st.errOwn += 0.18 * fx[fxBadDeploy]
		}
		c50, c99 := st.own.quantileZ(0), st.own.quantileZ(z99)
		st.dist.reset()
		var okProb = 1 - st.errOwn
		for e := range edges {
			ed := &edges[e]
			if ed.from != i || ed.ratio == 0 {
				continue
			}
			j := ed.to
			r := ed.ratio
			if e == edgeCatalogPostgres {
				r = m.catalogDBPerReq
			}
			cs := &s[j]
			call := cs.fail
			if e == edgeCartRedis {
				call = max(call, 0.97*fx[fxPartition])
			}
			m.edgeCall[e] = call
			var rf float64
			if r >= 1 {
				rf = 1 - math.Pow(1-call, r)
			} else {
				rf = r * call
			}
			rf *= ed.pass
			m.edgeFail[e] = rf
			okProb *= 1 - rf
			c50 += r * cs.typ.quantileZ(0)
			c99 += min(r, 1)*cs.typ.quantileZ(z99) + max(r-1, 0)*cs.typ.quantileZ(0)
			// Slow failures: the caller waits for its timeout.
			reach := min(1, r)
			slow := call * ed.slow
			if e == edgeCartRedis && fx[fxPartition] > 0 {
				slow = call * 0.6
			}
			st.dist.addPoint(reach*slow, p.timeout+scale)
			for k := 0; k < cs.dist.np; k++ {
				pt := cs.dist.pts[k]
				st.dist.addPoint(reach*pt.w, min(pt.at, p.timeout)+scale)
			}
		}
		st.dist.addComp(1, lnFromQ(c50, c99))
		st.dist.normalise()
		st.err = 1 - okProb
		st.codes = [numCodes5xx]float64{c500: st.err}
		m.finishService(i)
	}
	m.gatewayLatency(fx)
	m.frontendLatency(fx)
}

// finishService derives the caller-visible failure probability and
// quantiles once a service's distribution is known.
func (m *model) finishService(i int) {
	st := &m.svc[i]
	st.typ = st.dist.fit()
	st.q = [3]float64{st.dist.quantile(0.5, true), st.dist.quantile(0.95, true), st.dist.quantile(0.99, true)}
	st.fail = 0
	if st.offered > 0 {
		st.fail = (st.served*st.err + st.dropped) / st.offered
	}
	st.inflight = st.served * (st.typ.quantileZ(0) * math.Exp(st.typ.sigma*st.typ.sigma/2))
}

// gatewayRoutes are the gateway's upstream edges; the rest of its traffic
// is its own (sessions, auth, unknown paths).
var gatewayRoutes = [...]int{edgeGatewayCatalog, edgeGatewayCart, edgeGatewayCheckout}

func (m *model) gatewayLatency(fx effects) {
	s := &m.svc
	st := &s[svcGateway]
	p := &params[svcGateway]
	scale := p.s * queueFactor(st.rho)
	own := lnFromQ(scale, scale*p.tail*(1+0.6*st.rho*st.rho))
	st.own = own
	st.errOwn = p.baseErr
	st.dist.reset()
	var codes [numCodes5xx]float64
	var ownShare = 1.0
	for _, e := range gatewayRoutes {
		ed := &edges[e]
		cs := &s[ed.to]
		ownShare -= ed.ratio
		st.dist.addComp(ed.ratio, own.shifted(cs.typ.quantileZ(0), cs.typ.quantileZ(z99)))
		m.edgeCall[e] = cs.fail
		m.edgeFail[e] = ed.ratio * cs.fail
		if cs.offered > 0 {
			served := ed.ratio * cs.served * cs.err / cs.offered
			drop := ed.ratio * cs.dropFrac
			codes[c500] += served
			codes[c502] += drop * (1 - ed.slow)
			codes[c504] += drop * ed.slow
			st.dist.addPoint(drop*ed.slow, p.timeout+scale)
		}
		for k := 0; k < cs.dist.np; k++ {
			pt := cs.dist.pts[k]
			st.dist.addPoint(ed.ratio*pt.w, min(pt.at, p.timeout)+scale)
		}
	}
	st.dist.addComp(ownShare, own)
	st.dist.normalise()
	codes[c500] += st.errOwn
	st.codes = codes
	st.err = min(1, codes[c500]+codes[c502]+codes[c504])
	m.finishService(svcGateway)
}

func (m *model) frontendLatency(fx effects) {
	s := &m.svc
	st := &s[svcFrontend]
	gw := &s[svcGateway]
	p := &params[svcFrontend]
	scale := p.s * queueFactor(st.rho)
	own := lnFromQ(scale, scale*p.tail)
	st.own = own
	st.dist.reset()
	const proxied = 0.85
	st.dist.addComp(1-proxied, own)
	gwOK := 1 - gw.dropFrac
	for k := 0; k < gw.dist.nc; k++ {
		c := gw.dist.comps[k]
		st.dist.addComp(proxied*gwOK*c.w, c.d.shifted(scale, scale*p.tail))
	}
	for k := 0; k < gw.dist.np; k++ {
		pt := gw.dist.pts[k]
		st.dist.addPoint(proxied*gwOK*pt.w, pt.at+scale)
	}
	drop := proxied * gw.dropFrac
	st.dist.addPoint(drop*0.4, p.timeout)
	st.dist.normalise()
	var codes [numCodes5xx]float64
	for c := range codes {
		codes[c] = proxied * gwOK * gw.codes[c]
	}
	codes[c502] += drop * 0.6
	codes[c504] += drop * 0.4
	// nginx limit_req answers 503 to the most aggressive clients in a surge.
	codes[c503] += 0.02 * fx[fxSurge]
	st.codes = codes
	st.errOwn = codes[c503]
	st.err = min(1, codes[c500]+codes[c502]+codes[c503]+codes[c504])
	m.finishService(svcFrontend)
}
