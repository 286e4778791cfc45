package sim

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Logs are emitted one record per physical line, exactly as a file tailer
// would read them: a Java stack trace is the ERROR head line followed by
// one record per trace line, all with the head's timestamp, so a multi-line
// joiner downstream sees them consecutively. Raw holds the line; parsed
// fields are left empty for the pipeline to fill.
//
// Volume: request lines come from "flows", requests followed through every
// service on their path with one trace id. Flows are head-sampled at the
// edge (1 in flowSampleEvery requests at LogScale 1) and failed requests are
// kept errBoost times more often, as tail-sampling keeps errors; the rest of
// each service's lines (housekeeping, periodic jobs, warnings) come from
// per-service background generators.

const (
	flowSampleEvery = 150.0
	errBoost        = 8.0
)

type pendingLog struct {
	rec telemetry.LogRecord
	seq uint64
}

// Log sources of a service: most services have one stream, nginx has an
// access log and an error log.
const (
	srcMain = iota
	srcErr
)

// logGen writes log lines; it is driven by Sim.genStep.
type logGen struct {
	s      *Sim
	labels [numSvc][2]telemetry.Labels
	seq    uint64
	b      []byte
	fr     *stream
	bg     [numSvc]*stream
	t0     time.Time // start of the current step
	stepMs int64
	scale  float64
	fx     effects
	// cbOpen is the gateway's circuit breaker state per upstream; pgPrev the
	// postgres pool sizes at the previous step, to log new connections.
	cbOpen [numSvc]bool
	pgPrev [numPools]float64
}

func newLogGen(s *Sim) *logGen {
	g := &logGen{s: s, fr: newStream(), scale: s.opts.LogScale, stepMs: s.opts.Step.Milliseconds()}
	for i := 0; i < numOwn; i++ {
		g.bg[i] = newStream()
		src := "stdout"
		switch i {
		case svcCron:
			src = "syslog"
		}
		g.labels[i][srcMain] = telemetry.LabelsFromStrings("service", svcNames[i], "source", src)
		g.labels[i][srcErr] = g.labels[i][srcMain]
	}
	g.labels[svcFrontend][srcMain] = telemetry.LabelsFromStrings("service", "frontend", "source", "file", "filename", "/var/log/nginx/access.log")
	g.labels[svcFrontend][srcErr] = telemetry.LabelsFromStrings("service", "frontend", "source", "file", "filename", "/var/log/nginx/error.log")
	g.labels[svcPostgres][srcMain] = telemetry.LabelsFromStrings("service", "postgres", "source", "file", "filename", "/var/log/postgresql/postgresql-15-main.log")
	g.labels[svcPostgres][srcErr] = g.labels[svcPostgres][srcMain]
	return g
}

// emit records one line. Catalog's silence is applied here, so nothing the
// catalog would have written during the fault gets out.
func (g *logGen) emit(svc, src int, t time.Time, line []byte) {
	if svc == svcCatalog && g.s.faultActive(fxSilence, t) {
		return
	}
	g.seq++
	g.s.pendLogs = append(g.s.pendLogs, pendingLog{
		rec: telemetry.LogRecord{Time: t, Service: svcNames[svc], Labels: g.labels[svc][src], Raw: string(line)},
		seq: g.seq,
	})
}

// emitTrace writes a stack trace after its head line, one record per line.
func (g *logGen) emitTrace(svc int, t time.Time, lines []string) {
	for _, l := range lines {
		g.b = append(g.b[:0], l...)
		g.emit(svc, srcMain, t, g.b)
	}
}

// step writes every line of the step starting at t.
func (g *logGen) step(t time.Time, fx effects) {
	g.t0, g.fx = t, fx
	seed := g.s.opts.Seed
	g.fr.reseed(seed, streamFlows, g.s.k)
	g.flows()
	for i := 0; i < numOwn; i++ {
		r := g.bg[i]
		r.reseed(seed, streamBackground+uint64(i), g.s.k)
		switch i {
		case svcFrontend:
			g.frontendBackground(r.Rand)
		case svcGateway:
			g.gatewayBackground(r.Rand)
		case svcCheckout:
			g.checkoutBackground(r.Rand)
		case svcCatalog:
			g.catalogBackground(r.Rand)
		case svcCart:
			g.cartBackground(r.Rand)
		case svcPayments:
			g.paymentsBackground(r.Rand)
		case svcPostgres:
			g.postgresBackground(r.Rand)
		case svcRedis:
			g.redisBackground(r.Rand)
		case svcCron:
			g.cronBackground(r.Rand)
		}
	}
	end := t.Add(g.s.opts.Step)
	keep := g.s.restarts[:0]
	for _, rs := range g.s.restarts {
		switch {
		case rs.at.Before(t):
		case rs.at.Before(end):
			g.startup(rs)
		default:
			keep = append(keep, rs)
		}
	}
	g.s.restarts = keep
}

// at returns a uniformly random millisecond inside the step.
func (g *logGen) at(r *rand.Rand) time.Time {
	return g.t0.Add(time.Duration(r.Int64N(g.stepMs)) * time.Millisecond)
}

// count draws how many times a background line with the given per-second
// rate occurs in this step, scaled by LogScale.
func (g *logGen) count(r *rand.Rand, perSec float64) int {
	return poisson(r, perSec*float64(g.stepMs)/1000*g.scale)
}

// every reports the instants in this step that fall on a period boundary
// (offset by phase), for periodic housekeeping lines.
func (g *logGen) every(period, phase time.Duration) []time.Time {
	var out []time.Time
	end := g.t0.Add(g.s.opts.Step)
	base := g.t0.Truncate(period).Add(phase)
	for t := base; t.Before(end); t = t.Add(period) {
		if !t.Before(g.t0) {
			out = append(out, t)
		}
	}
	return out
}

func addSec(t time.Time, sec float64) time.Time {
	return t.Add(time.Duration(math.Round(sec*1000)) * time.Millisecond)
}

// Identities. Users keep their IP address and browser across requests, so
// sessions can be followed.

var ipFirstOctets = [...]byte{31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 85, 86, 87, 88, 89, 90, 91, 93, 94, 95, 109, 141, 145, 176, 178, 185, 188, 193, 194, 212, 213, 217}

func userIP(user int) [4]byte {
	h := splitmix(uint64(user) * 0x51ed27)
	return [4]byte{ipFirstOctets[h%uint64(len(ipFirstOctets))], byte(h >> 8), byte(h >> 16), 1 + byte(h>>24)%254}
}

func appendIP(b []byte, ip [4]byte) []byte {
	for i, o := range ip {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, int64(o), 10)
	}
	return b
}

var userAgents = [...]string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"ShopApp/4.12.0 (iOS 18.1; iPhone15,2) okhttp/4.12.0",
	"ShopApp/4.12.0 (Android 14; SM-S918B) okhttp/4.12.0",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}

func userAgent(user int) string {
	h := splitmix(uint64(user) ^ 0xa11ce)
	switch {
	case user%97 == 0:
		return userAgents[8]
	case h%10 < 2:
		return userAgents[6+h%2]
	}
	return userAgents[h%6]
}

func appendUser(b []byte, user int) []byte {
	b = append(b, "u-"...)
	return strconv.AppendInt(b, int64(100000+user), 10)
}

func appendSKU(b []byte, sku int) []byte {
	b = append(b, "SKU-"...)
	return appendPad(b, 10000+sku, 5)
}

func appendOrder(b []byte, id uint64) []byte {
	b = append(b, "ORD-"...)
	return appendPad(b, int(id%100000000), 8)
}

var categories = [...]string{"shoes", "jackets", "bags", "accessories", "kids", "sale", "new-in", "sport", "home", "beauty"}
var searchTerms = [...]string{"running+shoes", "winter+jacket", "backpack", "sneakers", "gift", "wool+scarf", "yoga+mat", "boots", "sunglasses", "rain+coat"}
