package sim

import (
	"math/rand/v2"
	"time"
)

// The frontend is nginx: an access log in the combined format followed by
// request timing and the request id (log_format main_ext), and an error log.

// nginxAccess writes an access line; upstream < 0 means nginx answered
// itself (upstream_response_time "-").
func (g *logGen) nginxAccess(f *flow, at time.Time, status, size int, dur, upstream float64) {
	b := g.b[:0]
	b = appendIP(b, userIP(f.user))
	b = append(b, " - - ["...)
	b = appendNginxAccess(b, at)
	b = append(b, "] \""...)
	b = append(b, f.method...)
	b = append(b, ' ')
	b = append(b, f.path...)
	ua := userAgent(f.user)
	if ua[0] == 'M' && f.user%3 != 0 {
		b = append(b, " HTTP/2.0\" "...)
	} else {
		b = append(b, " HTTP/1.1\" "...)
	}
	b = appendInt(b, status)
	b = append(b, ' ')
	b = appendInt(b, size)
	b = append(b, " \""...)
	b = append(b, f.referer...)
	b = append(b, "\" \""...)
	b = append(b, ua...)
	b = append(b, "\" rt="...)
	b = appendFixed(b, dur, 3)
	b = append(b, " urt=\""...)
	if upstream < 0 {
		b = append(b, '-')
	} else {
		b = appendFixed(b, upstream, 3)
	}
	b = append(b, "\" rid="...)
	b = f.appendTrace(b)
	g.b = b
	g.emit(svcFrontend, srcMain, at, b)
}

// nginxErrorHead writes "2026/01/05 10:00:00 [level] 29#29: *12345 ".
func (g *logGen) nginxErrorHead(b []byte, at time.Time, level string, r *rand.Rand) []byte {
	b = appendNginxError(b, at)
	b = append(b, " ["...)
	b = append(b, level...)
	b = append(b, "] "...)
	w := 29 + r.IntN(4)
	b = appendInt(b, w)
	b = append(b, '#')
	b = appendInt(b, w)
	b = append(b, ": *"...)
	return appendInt(b, int(at.UnixMilli()/37%9000000)+r.IntN(1000))
}

func (g *logGen) nginxRequestTail(b []byte, f *flow, upstream bool, r *rand.Rand) []byte {
	b = append(b, ", client: "...)
	b = appendIP(b, userIP(f.user))
	b = append(b, ", server: shop.example.com, request: \""...)
	b = append(b, f.method...)
	b = append(b, ' ')
	b = append(b, f.path...)
	b = append(b, " HTTP/1.1\""...)
	if upstream {
		b = append(b, ", upstream: \"http://10.0.1."...)
		b = appendInt(b, 21+r.IntN(4))
		b = append(b, ":8080"...)
		b = append(b, f.path...)
		b = append(b, '"')
	}
	return append(b, ", host: \"shop.example.com\""...)
}

var nginxFastErrors = [...]string{
	" connect() failed (111: Connection refused) while connecting to upstream",
	" recv() failed (104: Connection reset by peer) while reading response header from upstream",
	" upstream prematurely closed connection while reading response header from upstream",
}

func (g *logGen) nginxUpstreamError(r *rand.Rand, f *flow, at time.Time) {
	b := g.nginxErrorHead(g.b[:0], at, "error", r)
	if f.slow {
		b = append(b, " upstream timed out (110: Connection timed out) while reading response header from upstream"...)
	} else {
		b = append(b, nginxFastErrors[r.IntN(len(nginxFastErrors))]...)
	}
	b = g.nginxRequestTail(b, f, true, r)
	g.b = b
	g.emit(svcFrontend, srcErr, at, b)
}

func (g *logGen) nginxLimited(r *rand.Rand, f *flow, at time.Time) {
	b := g.nginxErrorHead(g.b[:0], at, "error", r)
	b = append(b, " limiting requests, excess: "...)
	b = appendFixed(b, 10+20*r.Float64(), 3)
	b = append(b, " by zone \"api\""...)
	b = g.nginxRequestTail(b, f, false, r)
	g.b = b
	g.emit(svcFrontend, srcErr, at, b)
}

func (g *logGen) nginxOpenFailed(r *rand.Rand, f *flow, at time.Time) {
	b := g.nginxErrorHead(g.b[:0], at, "error", r)
	b = append(b, " open() \"/usr/share/nginx/html"...)
	b = append(b, f.path...)
	b = append(b, "\" failed (2: No such file or directory)"...)
	b = g.nginxRequestTail(b, f, false, r)
	g.b = b
	g.emit(svcFrontend, srcErr, at, b)
}

// nginxNoise is nginx's benign background in the error log.
var nginxNoise = [...]struct {
	rate  float64
	level string
	msg   string
}{
	{0.004, "warn", " an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/"},
	{0.001, "warn", " a client request body is buffered to a temporary file /var/cache/nginx/client_temp/"},
	{0.0006, "error", " client intended to send too large body: "},
	{0.002, "info", " SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking"},
	{0.003, "info", " client closed connection while waiting for request"},
}

// frontendBackground writes kube-probe checks and nginx's benign noise.
func (g *logGen) frontendBackground(r *rand.Rand) {
	for _, at := range g.every(30*time.Second, 7*time.Second) {
		b := append(g.b[:0], "10.0.1.1 - - ["...)
		b = appendNginxAccess(b, at)
		b = append(b, "] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.29\" rt=0.000 urt=\"-\" rid="...)
		b = appendHex(b, r.Uint64(), 16)
		b = appendHex(b, r.Uint64(), 16)
		g.b = b
		g.emit(svcFrontend, srcMain, at, b)
	}
	for k, n := range nginxNoise {
		for i, c := 0, g.count(r, n.rate); i < c; i++ {
			at := g.at(r)
			b := g.nginxErrorHead(g.b[:0], at, n.level, r)
			b = append(b, n.msg...)
			switch k {
			case 0, 1:
				b = appendInt(b, r.IntN(10))
				b = append(b, '/')
				b = appendPad(b, r.IntN(100), 2)
				b = append(b, '/')
				b = appendPad(b, r.IntN(10000000000), 10)
				if k == 0 {
					b = append(b, " while reading upstream"...)
				}
			case 2:
				b = appendInt(b, 10485761+r.IntN(40000000))
				b = append(b, " bytes"...)
			}
			f := flow{user: zipfish(r, 60000), method: "GET", path: []byte("/")}
			switch k {
			case 0:
				f.path = append(f.path[:0], "/api/v1/products?category="...)
				f.path = append(f.path, categories[r.IntN(len(categories))]...)
				b = g.nginxRequestTail(b, &f, true, r)
			case 1, 2:
				f.method = "POST"
				f.path = append(f.path[:0], "/api/v1/reviews/upload"...)
				b = g.nginxRequestTail(b, &f, false, r)
			default:
				b = append(b, ", client: "...)
				b = appendIP(b, userIP(f.user))
				b = append(b, ", server: 0.0.0.0:443"...)
			}
			g.b = b
			g.emit(svcFrontend, srcErr, at, b)
		}
	}
}
