package sim

import (
	"math/rand/v2"
	"time"
)

// reports-cron writes syslog: the cron daemon and the kernel in RFC 3164
// (<pri>Mmm dd hh:mm:ss host tag[pid]: msg), the reports job itself in RFC
// 5424 (<pri>1 timestamp host app procid msgid [sd] msg).

const (
	priCronInfo = 78 // cron.info
	priUserInfo = 14 // user.info
	priUserWarn = 12 // user.warning
	priUserErr  = 11 // user.err
	priKernErr  = 3  // kern.err
)

func (g *logGen) syslog3164(at time.Time, pri int, tag string, pid int, msg ...[]byte) {
	b := append(g.b[:0], '<')
	b = appendInt(b, pri)
	b = append(b, '>')
	b = appendRFC3164Time(b, at)
	b = append(b, " node-2 "...)
	b = append(b, tag...)
	if pid > 0 {
		b = append(b, '[')
		b = appendInt(b, pid)
		b = append(b, ']')
	}
	b = append(b, ": "...)
	for _, m := range msg {
		b = append(b, m...)
	}
	g.b = b
	g.emit(svcCron, srcMain, at, b)
}

func (g *logGen) syslog5424(at time.Time, pri, pid int, msgid, sd string, msg ...[]byte) {
	b := append(g.b[:0], '<')
	b = appendInt(b, pri)
	b = append(b, ">1 "...)
	b = appendRFC3339(b, at, 3)
	b = append(b, " node-2 reports "...)
	b = appendInt(b, pid)
	b = append(b, ' ')
	b = append(b, msgid...)
	b = append(b, ' ')
	b = append(b, sd...)
	b = append(b, ' ')
	for _, m := range msg {
		b = append(b, m...)
	}
	g.b = b
	g.emit(svcCron, srcMain, at, b)
}

func jobPid(start time.Time) int { return 3000 + int(start.Unix()/60%29000) }

// cronBackground writes job starts, progress and results; a runaway job's
// growing memory and stalls, and the kernel's OOM kill at its end.
func (g *logGen) cronBackground(r *rand.Rand) {
	m := g.s.m
	c := &m.cron
	end := g.t0.Add(g.s.opts.Step)
	for i := range g.s.faults {
		f := &g.s.faults[i]
		if f.def.fx != fxCron {
			continue
		}
		if !f.Onset.Before(g.t0) && f.Onset.Before(end) {
			g.jobStart(f.Onset, "export-all", "--job export-all --since 2019-01-01")
		}
		if !f.end.Before(g.t0) && f.end.Before(end) {
			pid := jobPid(f.Onset)
			g.syslog3164(f.end, priKernErr, "kernel", 0, []byte("[812344.551203] python3 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0"))
			g.syslog3164(addSec(f.end, 0.002), priKernErr, "kernel", 0, []byte("[812344.551877] Out of memory: Killed process "), appendInt(nil, pid),
				[]byte(" (python3) total-vm:10921344kB, anon-rss:10228112kB, file-rss:2048kB, shmem-rss:0kB, UID:1001 pgtables:20188kB oom_score_adj:0"))
			g.syslog3164(addSec(f.end, 0.9), priCronInfo, "CRON", pid-1, []byte("(reports) MAIL (mailed 212 bytes of output but got status 0x004b from MTA)"))
		}
	}
	for _, at := range g.every(time.Hour, 17*time.Minute+1*time.Second) {
		g.syslog3164(at, priCronInfo, "CRON", 2000+int(at.Unix()/3600%7000), []byte("(root) CMD (cd / && run-parts --report /etc/cron.hourly)"))
	}
	for _, at := range g.every(24*time.Hour, 6*time.Hour+25*time.Minute+1*time.Second) {
		g.syslog3164(at, priCronInfo, "CRON", 2000+int(at.Unix()/3600%7000), []byte("(root) CMD (test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; })"))
	}
	// Scheduled jobs: announce starts and finishes that fall in this step.
	hour := g.t0.Truncate(time.Hour)
	hourly := hour.Add(5 * time.Minute)
	g.scheduled(r, hourly, hourly.Add(hourlyJobDuration(g.s.opts.Seed, hour.Unix()/3600)), "hourly-sales", "s3://shop-reports/hourly/")
	day := g.t0.Truncate(24 * time.Hour)
	nightly := day.Add(2*time.Hour + 10*time.Minute)
	nEnd := nightly.Add(nightlyJobDuration(g.s.opts.Seed, day))
	g.scheduled(r, nightly, nEnd, "nightly-full", "s3://shop-reports/daily/")
	for _, at := range g.every(5*time.Minute, 10*time.Minute+30*time.Second) {
		if at.After(nightly) && at.Before(nEnd) {
			g.syslog5424(at, priUserWarn, jobPid(nightly), "-", "-",
				[]byte("query took "), appendFixed(nil, 8+10*r.Float64(), 1), []byte("s, consider an index on orders(created_at)"))
		}
	}

	if c.runaway {
		pid := jobPid(g.runawayStart())
		for _, at := range g.every(time.Minute, 20*time.Second) {
			batch := int(c.progress * 50000)
			g.syslog5424(at, priUserInfo, pid, "progress", `[job@32473 name="export-all"]`,
				[]byte("processed batch "), appendInt(nil, batch), []byte("/50000 rss="), appendInt(nil, int(c.mem/mib)), []byte("MiB"))
			if c.mem > 1.5*gib && at.Minute()%2 == 0 {
				g.syslog5424(addSec(at, 0.01), priUserWarn, pid, "-", "-",
					[]byte("memory usage "), appendFixed(nil, c.mem/gib, 1), []byte("GiB exceeds soft limit 1.5GiB"))
			}
		}
		for i, n := 0, poisson(r, g.fx[fxCron]*float64(g.stepMs)/90000); i < n; i++ {
			at := g.at(r)
			g.syslog5424(at, priUserErr, pid, "-", "-", []byte("worker "), appendInt(nil, 1+r.IntN(8)),
				[]byte(" stalled on batch "), appendInt(nil, int(c.progress*50000)), []byte(" for "), appendInt(nil, 30+r.IntN(200)), []byte("s"))
		}
	}
	if c.running && g.fx[fxDBDown] > 0 {
		pid := jobPid(c.jobStart)
		for _, at := range g.every(time.Minute, 25*time.Second) {
			g.syslog5424(at, priUserErr, pid, "-", "-", []byte("job "+c.job+" failed to query the database"))
			for _, l := range [...]string{
				"Traceback (most recent call last):",
				"  File \"/opt/reports/reports/db.py\", line 41, in connect",
				"    sock = socket.create_connection((host, port), timeout=10)",
				"ConnectionRefusedError: [Errno 111] Connection refused: 'db-prod-1:5432'",
			} {
				g.syslog5424(at, priUserErr, pid, "-", "-", []byte(l))
			}
			g.syslog5424(addSec(at, 0.01), priUserWarn, pid, "-", "-", []byte("retrying database connection in 60s"))
		}
	}
}

func (g *logGen) runawayStart() time.Time {
	for i := range g.s.faults {
		f := &g.s.faults[i]
		if f.def.fx == fxCron && f.active(g.t0) {
			return f.Onset
		}
	}
	return g.t0
}

// scheduled writes a job's start and finish when they fall in this step.
func (g *logGen) scheduled(r *rand.Rand, start, done time.Time, job, dest string) {
	end := g.t0.Add(g.s.opts.Step)
	if !start.Before(g.t0) && start.Before(end) {
		g.jobStart(start, job, "--job "+job)
	}
	if !done.Before(g.t0) && done.Before(end) {
		if g.s.faultActive(fxDBDown, done) {
			g.syslog5424(done, priUserErr, jobPid(start), "-", `[job@32473 name="`+job+`" status="failed"]`,
				[]byte("job "+job+" failed: database unavailable after retries"))
			return
		}
		g.jobDone(r, start, done, job, dest)
	}
}

func (g *logGen) jobStart(at time.Time, job, args string) {
	pid := jobPid(at)
	g.syslog3164(at, priCronInfo, "CRON", pid-1, []byte("(reports) CMD (/opt/reports/bin/run-report "+args+")"))
	g.syslog5424(addSec(at, 0.8), priUserInfo, pid, "-", `[job@32473 name="`+job+`"]`, []byte("starting job "+job))
	if g.s.faultActive(fxDBDown, at) {
		return
	}
	g.syslog5424(addSec(at, 1.1), priUserInfo, pid, "-", "-", []byte("connected to db-prod-1:5432 as reports (pool size 4)"))
	from := at.Add(-time.Hour).Truncate(time.Hour)
	var w []byte
	w = append(w, "querying orders window="...)
	w = appendRFC3339(w, from, 0)
	w = append(w, '/')
	w = appendRFC3339(w, at.Truncate(time.Hour), 0)
	g.syslog5424(addSec(at, 1.2), priUserInfo, pid, "-", "-", w)
}

func (g *logGen) jobDone(r *rand.Rand, start, at time.Time, job, dest string) {
	pid := jobPid(start)
	rows := 2000 + r.IntN(40000)
	g.syslog5424(addSec(at, -0.5), priUserInfo, pid, "-", "-", []byte("fetched "), appendInt(nil, rows), []byte(" rows"))
	var path []byte
	path = append(path, dest...)
	path = start.AppendFormat(path, "2006/01/02/15")
	path = append(path, ".csv.gz"...)
	g.syslog5424(addSec(at, -0.2), priUserInfo, pid, "-", "-", []byte("uploaded report to "), path, []byte(" ("), appendInt(nil, rows*37), []byte(" bytes)"))
	g.syslog5424(at, priUserInfo, pid, "-", `[job@32473 name="`+job+`" status="ok"]`, []byte("job "+job+" finished in "), appendFixed(nil, at.Sub(start).Seconds(), 1), []byte("s"))
}
