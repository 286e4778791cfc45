package sim

import (
	"math/rand/v2"
	"time"
)

// Redis logs in its native format: pid:role timestamp level-char message,
// where role is M (master) or C (the forked child saving the RDB).
// Redis says nothing about evictions, which is realistic: memory pressure
// only shows in its metrics.

func redisHead(b []byte, pid int, role byte, at time.Time, level byte) []byte {
	b = appendInt(b, pid)
	b = append(b, ':', role, ' ')
	b = appendRedisTime(b, at)
	return append(b, ' ', level, ' ')
}

func (g *logGen) redisLine(at time.Time, pid int, role, level byte, parts ...[]byte) {
	b := redisHead(g.b[:0], pid, role, at, level)
	for _, p := range parts {
		b = append(b, p...)
	}
	g.b = b
	g.emit(svcRedis, srcMain, at, b)
}

// redisBackground writes the RDB snapshots (save 300 100 / save 60 10000).
func (g *logGen) redisBackground(r *rand.Rand) {
	m := g.s.m
	writes := m.svc[svcRedis].served * 0.15
	period, rule := 5*time.Minute, "100 changes in 300 seconds. Saving..."
	if writes*60 >= 10000 {
		period, rule = time.Minute, "10000 changes in 60 seconds. Saving..."
	}
	for _, at := range g.every(period, 17*time.Second) {
		child := 20000 + int(at.Unix()/60%40000)
		mb := int(m.redis.used / mib)
		g.redisLine(at, 1, 'M', '*', []byte(rule))
		g.redisLine(addSec(at, 0.002), 1, 'M', '*', []byte("Background saving started by pid "), appendInt(nil, child))
		saved := addSec(at, 0.4+float64(mb)/900*(1+0.2*r.Float64()))
		g.redisLine(saved, child, 'C', '*', []byte("DB saved on disk"))
		cow := appendInt(nil, 1+r.IntN(12))
		g.redisLine(addSec(saved, 0.001), child, 'C', '*', []byte("Fork CoW for RDB: current "), cow, []byte(" MB, peak "), cow, []byte(" MB, average "), appendInt(nil, 1+r.IntN(4)), []byte(" MB"))
		g.redisLine(addSec(saved, 0.09), 1, 'M', '*', []byte("Background saving terminated with success"))
	}
	for _, at := range g.every(6*time.Hour, 3*time.Hour+33*time.Minute) {
		g.redisLine(at, 1, 'M', '#', []byte("WARNING: Redis does not require authentication and is not protected by network restrictions."))
	}
}
