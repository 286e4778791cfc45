package sim

import (
	"math/rand/v2"
	"time"
)

// Routes of edge traffic, with their share of requests. Static assets stay
// in nginx; everything else goes through the gateway.
const (
	routeStatic = iota
	routeCatalog
	routeCart
	routeCheckout
	routeGateway // the gateway's own endpoints (sessions, auth, unknown paths)
	numRoutes
)

var (
	routeShare = [numRoutes]float64{0.15, 0.51, 0.2125, 0.0425, 0.085}
	routeSvc   = [numRoutes]int{-1, svcCatalog, svcCart, svcCheckout, -1}
	routeName  = [numRoutes]string{"", "catalog", "cart", "checkout", ""}
)

// Stages where a request can fail, in path order.
const (
	stageLimit   = iota // nginx limit_req
	stageGwDrop         // the gateway could not take the connection
	stageGwOwn          // the gateway failed by itself
	stageSvcDrop        // the upstream service could not take the call
	stageSvcErr         // the upstream service answered 5xx
	numStages
)

// flow is one sampled request followed along its path.
type flow struct {
	route            int
	stage            int // failing stage, -1 when the request succeeds
	t0               time.Time
	traceHi, traceLo uint64
	span             uint64
	user             int
	method           string
	path             []byte
	referer          string
	slow             bool // a drop noticed only at the timeout
}

func (f *flow) appendTrace(b []byte) []byte {
	b = appendHex(b, f.traceHi, 16)
	return appendHex(b, f.traceLo, 16)
}

// stageProbs fills the probability of failing at each stage given the
// request reached it.
func (g *logGen) stageProbs(route int, p *[numStages]float64) {
	m := g.s.m
	*p = [numStages]float64{}
	if route == routeStatic {
		return
	}
	p[stageLimit] = m.svc[svcFrontend].codes[c503] / 0.85
	gw := &m.svc[svcGateway]
	p[stageGwDrop] = gw.dropFrac
	p[stageGwOwn] = gw.errOwn
	if svc := routeSvc[route]; svc >= 0 {
		p[stageSvcDrop] = m.svc[svc].dropFrac
		p[stageSvcErr] = m.svc[svc].err
	}
}

// flows samples this step's requests and writes their lines.
func (g *logGen) flows() {
	r := g.fr.Rand
	fe := &g.s.m.svc[svcFrontend]
	base := g.scale / flowSampleEvery
	keepFailed := min(1, base*errBoost)
	dt := float64(g.stepMs) / 1000
	var p, w [numStages]float64
	for route := 0; route < numRoutes; route++ {
		rate := fe.served * routeShare[route]
		g.stageProbs(route, &p)
		reach := 1.0
		for k := range p {
			w[k] = reach * p[k]
			reach *= 1 - p[k]
		}
		nOK := poisson(r, rate*reach*dt*base)
		nFail := poisson(r, rate*(1-reach)*dt*keepFailed)
		for i := 0; i < nOK; i++ {
			g.flow(r, route, -1)
		}
		for i := 0; i < nFail; i++ {
			g.flow(r, route, pickWeighted(r, w[:]))
		}
	}
}

// flow writes one request's lines on every service it touched.
func (g *logGen) flow(r *rand.Rand, route, stage int) {
	m := g.s.m
	f := &flow{route: route, stage: stage, t0: g.at(r), user: zipfish(r, 60000)}
	f.traceHi, f.traceLo, f.span = r.Uint64(), r.Uint64(), r.Uint64()
	f.path = make([]byte, 0, 64)
	g.requestLine(r, f)
	fe := &m.svc[svcFrontend]
	feOwn := fe.own.sample(r)

	if route == routeStatic {
		status, size := 200, 800+r.IntN(180000)
		switch u := r.Float64(); {
		case u < 0.3:
			status, size = 304, 0
		case u < 0.34:
			status, size = 404, 153
			f.path = append(f.path[:0], scannerPaths[r.IntN(len(scannerPaths))]...)
			g.nginxOpenFailed(r, f, addSec(f.t0, feOwn))
		}
		g.nginxAccess(f, addSec(f.t0, feOwn), status, size, feOwn, -1)
		return
	}
	if stage == stageLimit {
		at := addSec(f.t0, feOwn)
		g.nginxLimited(r, f, at)
		g.nginxAccess(f, at, 503, 197, feOwn, -1)
		return
	}
	gw := &m.svc[svcGateway]
	if stage == stageGwDrop {
		f.slow = r.Float64() < 0.4
		d := 0.001 + feOwn
		status := 502
		if f.slow {
			d, status = params[svcFrontend].timeout, 504
		}
		at := addSec(f.t0, d)
		g.nginxUpstreamError(r, f, at)
		g.nginxAccess(f, at, status, 157, d, d)
		return
	}
	gwOwn := gw.own.sample(r)
	tSvc := addSec(f.t0, feOwn/2+gwOwn/2)
	var status int
	var dSvc float64
	var size int
	switch {
	case route == routeGateway:
		status, size = g.gatewayOwnOutcome(r, f, stage)
	case stage == stageSvcDrop:
		f.slow = r.Float64() < edges[gatewayRoutes[route-routeCatalog]].slow
		status, dSvc = 502, 0.002
		if f.slow {
			status, dSvc = 504, params[svcGateway].timeout
		}
		size = 0
	default:
		status, dSvc, size = g.serve(r, f, tSvc, stage == stageSvcErr)
	}
	dGW := dSvc + gwOwn
	atGW := addSec(f.t0, feOwn/2+dGW)
	if route != routeGateway && status >= 500 {
		g.gatewayUpstreamError(r, f, atGW, status, dGW)
	}
	if route == routeGateway && stage == stageGwOwn {
		g.gatewayHandlerError(r, f, atGW)
	}
	g.gatewayAccess(f, atGW, status, size, dGW)
	dFE := dGW + feOwn
	g.nginxAccess(f, addSec(f.t0, dFE), status, size, dFE, dGW)
}

// serve runs the request in its upstream service and returns the status,
// the service's duration and the response size.
func (g *logGen) serve(r *rand.Rand, f *flow, at time.Time, failed bool) (int, float64, int) {
	switch f.route {
	case routeCatalog:
		return g.catalogRequest(r, f, at, failed)
	case routeCart:
		return g.cartRequest(r, f, at, failed, false)
	case routeCheckout:
		return g.checkoutRequest(r, f, at, failed)
	}
	return 200, 0.001, 0
}

// requestLine picks the method and path of a route.
func (g *logGen) requestLine(r *rand.Rand, f *flow) {
	b := f.path[:0]
	f.method = "GET"
	f.referer = "https://shop.example.com/"
	switch f.route {
	case routeStatic:
		if r.IntN(3) == 0 {
			b = append(b, "/img/products/"...)
			b = appendSKU(b, zipfish(r, 40000))
			b = append(b, ".webp"...)
		} else {
			b = append(b, staticPaths[r.IntN(len(staticPaths))]...)
		}
	case routeCatalog:
		switch u := r.Float64(); {
		case u < 0.35:
			b = append(b, "/api/v1/products/"...)
			b = appendSKU(b, zipfish(r, 40000))
			f.referer = "https://shop.example.com/c/" + categories[r.IntN(len(categories))]
		case u < 0.65:
			b = append(b, "/api/v1/products?category="...)
			b = append(b, categories[r.IntN(len(categories))]...)
			b = append(b, "&page="...)
			b = appendInt(b, 1+zipfish(r, 8))
		case u < 0.9:
			b = append(b, "/api/v1/search?q="...)
			b = append(b, searchTerms[r.IntN(len(searchTerms))]...)
		default:
			b = append(b, "/api/v1/products/"...)
			b = appendSKU(b, zipfish(r, 40000))
			b = append(b, "/reviews?page=1"...)
		}
	case routeCart:
		f.referer = "https://shop.example.com/cart"
		switch u := r.Float64(); {
		case u < 0.5:
			b = append(b, "/api/v1/cart"...)
		case u < 0.8:
			f.method = "POST"
			b = append(b, "/api/v1/cart/items"...)
		case u < 0.9:
			f.method = "DELETE"
			b = append(b, "/api/v1/cart/items/"...)
			b = appendSKU(b, zipfish(r, 40000))
		default:
			f.method = "PATCH"
			b = append(b, "/api/v1/cart/items/"...)
			b = appendSKU(b, zipfish(r, 40000))
		}
	case routeCheckout:
		f.method = "POST"
		f.referer = "https://shop.example.com/checkout"
		b = append(b, "/api/v1/checkout"...)
	case routeGateway:
		switch u := r.Float64(); {
		case u < 0.4:
			b = append(b, "/api/v1/session"...)
		case u < 0.6:
			f.method = "POST"
			b = append(b, "/api/v1/auth/refresh"...)
		case u < 0.9:
			b = append(b, "/api/v1/me"...)
		default:
			b = append(b, "/api/v1/recommendations"...)
		}
	}
	f.path = b
}

var staticPaths = [...]string{
	"/", "/static/js/app.3f9a1c7e.js", "/static/js/vendor.91b2d4aa.js", "/static/css/main.5e0c2f11.css",
	"/favicon.ico", "/static/fonts/inter-var.woff2", "/c/shoes", "/c/jackets", "/manifest.json", "/robots.txt",
}

var scannerPaths = [...]string{"/wp-login.php", "/.env", "/phpmyadmin/index.php", "/.git/config", "/admin/config.php", "/xmlrpc.php"}
