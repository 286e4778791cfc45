package sim

import (
	"slices"
	"strconv"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Change events: deploys during working hours, config changes, autoscaler
// decisions and Kubernetes events. A day's events are planned from the
// day's own seed when the simulation first enters the day, merged with the
// events the faults bring (the bad release and its rollback, the database
// pod's back-off).

// restart is a process start the log generators announce with startup
// lines: a deploy's new pods, a crash-looping pod coming back.
type restart struct {
	svc     int
	at      time.Time
	version string
}

// deployable services and how often each ships.
var deployWeights = [numSvc]float64{
	svcFrontend: 1, svcGateway: 1.5, svcCheckout: 2, svcCatalog: 2.5, svcCart: 1.5, svcPayments: 1,
}

type eventPlanner struct {
	seed     int64
	versions [numSvc][3]int
	day      int64
	planned  bool
}

func newEventPlanner(seed int64) *eventPlanner {
	p := &eventPlanner{seed: seed}
	r := newStream()
	for i := range p.versions {
		r.reseed(seed, streamDay, -100-int64(i))
		p.versions[i] = [3]int{1 + r.IntN(3), r.IntN(30), r.IntN(12)}
	}
	return p
}

func (p *eventPlanner) version(i int) string {
	v := p.versions[i]
	return "v" + strconv.Itoa(v[0]) + "." + strconv.Itoa(v[1]) + "." + strconv.Itoa(v[2])
}

func eventID(seed int64, kind telemetry.EventKind, svc string, t time.Time) string {
	h := splitmix(uint64(seed) ^ splitmix(uint64(t.UnixNano())))
	for i := 0; i < len(svc); i++ {
		h = splitmix(h ^ uint64(svc[i]))
	}
	for i := 0; i < len(kind); i++ {
		h = splitmix(h ^ uint64(kind[i]))
	}
	return "evt-" + string(appendHex(nil, h, 16))
}

func shopLabels(svc string) telemetry.Labels {
	return telemetry.LabelsFromStrings("service", svc, "namespace", "shop", "cluster", "prod-eu-1")
}

func podName(svc string, h uint64) string {
	b := append([]byte(svc), '-')
	b = appendHex(b, h, 9)
	b = append(b, '-')
	const alnum = "bcdfghjklmnpqrstvwxz2456789"
	x := splitmix(h)
	for i := 0; i < 5; i++ {
		b = append(b, alnum[x%uint64(len(alnum))])
		x /= uint64(len(alnum))
	}
	return string(b)
}

// planDay returns the day's events (from `from` on) and the process restarts
// they imply, in time order.
func (s *Sim) planDay(day time.Time, from time.Time) ([]telemetry.Event, []restart) {
	p := s.planner
	r := s.dayRand
	r.reseed(s.opts.Seed, streamDay, dayIndex(day)*8+1)
	type item struct {
		at   time.Time
		kind int
		svc  int
		i    int
	}
	const (
		itDeploy = iota
		itConfig
		itRestart
		itProbe
		itFault
	)
	var items []item
	weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
	nDeploy := poisson(r.Rand, 3)
	if weekend {
		nDeploy = poisson(r.Rand, 0.3)
	}
	for k := 0; k < nDeploy; k++ {
		at := day.Add(9*time.Hour + 30*time.Minute + time.Duration(r.Float64()*8*float64(time.Hour))).Truncate(time.Second)
		items = append(items, item{at, itDeploy, pickWeighted(r.Rand, deployWeights[:]), k})
	}
	nConfig := poisson(r.Rand, 1.2)
	if weekend {
		nConfig = poisson(r.Rand, 0.2)
	}
	for k := 0; k < nConfig; k++ {
		at := day.Add(9*time.Hour + time.Duration(r.Float64()*9*float64(time.Hour))).Truncate(time.Second)
		items = append(items, item{at, itConfig, r.IntN(len(configChanges)), k})
	}
	for k, n := 0, poisson(r.Rand, 0.35); k < n; k++ {
		at := day.Add(time.Duration(r.Float64() * 24 * float64(time.Hour))).Truncate(time.Second)
		items = append(items, item{at, itRestart, []int{svcCart, svcCheckout, svcCatalog}[r.IntN(3)], k})
	}
	for k, n := 0, poisson(r.Rand, 1); k < n; k++ {
		at := day.Add(time.Duration(r.Float64() * 24 * float64(time.Hour))).Truncate(time.Second)
		items = append(items, item{at, itProbe, 1 + r.IntN(5), k})
	}
	dayEnd := day.Add(24 * time.Hour)
	for fi := range s.faults {
		f := &s.faults[fi]
		switch f.def.fx {
		case fxBadDeploy:
			for _, at := range []time.Time{f.Onset, f.end} {
				if !at.Before(day) && at.Before(dayEnd) {
					items = append(items, item{at, itFault, fxBadDeploy, fi})
				}
			}
		case fxDBDown:
			for _, off := range []time.Duration{40 * time.Second, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute, 45 * time.Minute} {
				at := f.Onset.Add(off)
				if at.Before(f.end) && !at.Before(day) && at.Before(dayEnd) {
					items = append(items, item{at, itFault, fxDBDown, fi})
				}
			}
		}
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.at.Compare(b.at) })

	var evs []telemetry.Event
	var rs []restart
	ev := func(kind telemetry.EventKind, svc int, at time.Time, summary string, attrs map[string]string) {
		if at.Before(from) {
			return
		}
		name := svcNames[svc]
		evs = append(evs, telemetry.Event{
			ID: eventID(s.opts.Seed, kind, name, at), Kind: kind, Time: at, Service: name,
			Summary: summary, Labels: shopLabels(name), Attributes: attrs,
		})
	}
	deploy := func(svc int, at time.Time, prev, next string, rollback bool) {
		h := splitmix(uint64(s.opts.Seed) ^ uint64(at.Unix()) ^ uint64(svc))
		attrs := map[string]string{
			"version": next, "previous_version": prev,
			"image":       "registry.shop.internal/" + svcNames[svc] + ":" + next,
			"commit":      string(appendHex(nil, h, 12)),
			"deployed_by": "argocd", "strategy": "RollingUpdate", "environment": "prod",
		}
		summary := svcNames[svc] + " " + next + " rolled out"
		if rollback {
			attrs["rollback"] = "true"
			summary = svcNames[svc] + " rolled back to " + next
		}
		ev(telemetry.EventDeploy, svc, at, summary, attrs)
		rsName := svcNames[svc] + "-" + string(appendHex(nil, h, 9))
		ev(telemetry.EventKubernetes, svc, at.Add(2*time.Second), "Scaled up replica set "+rsName+" to "+strconv.Itoa(params[svc].minReplicas),
			map[string]string{"reason": "ScalingReplicaSet", "type": "Normal", "object": "Deployment/" + svcNames[svc]})
		if !at.Before(from) {
			rs = append(rs, restart{svc, at.Add(time.Duration(8+h%20) * time.Second), next})
		}
	}
	for _, it := range items {
		switch it.kind {
		case itDeploy:
			if it.svc == svcCheckout && s.faultActive(fxBadDeploy, it.at) {
				continue // nobody ships on top of an incident
			}
			prev := p.version(it.svc)
			v := &p.versions[it.svc]
			if r.IntN(5) == 0 {
				v[1]++
				v[2] = 0
			} else {
				v[2]++
			}
			deploy(it.svc, it.at, prev, p.version(it.svc), false)
		case itConfig:
			c := configChanges[it.svc]
			ev(telemetry.EventConfigChange, c.svc, it.at, c.summary, map[string]string{"key": c.key, "old": c.old, "new": c.new, "author": c.author})
		case itRestart:
			h := splitmix(uint64(it.at.Unix()))
			pod := podName(svcNames[it.svc], h)
			reason := "OOMKilled"
			if it.svc != svcCart {
				reason = "Error"
			}
			ev(telemetry.EventKubernetes, it.svc, it.at, "Container "+svcNames[it.svc]+" in pod "+pod+" restarted ("+reason+")",
				map[string]string{"reason": "BackOff", "type": "Warning", "object": "Pod/" + pod, "container_reason": reason, "restart_count": strconv.Itoa(1 + int(h%3))})
			if !it.at.Before(from) {
				rs = append(rs, restart{it.svc, it.at.Add(5 * time.Second), p.version(it.svc)})
			}
		case itProbe:
			svc := it.svc
			pod := podName(svcNames[svc], splitmix(uint64(it.at.Unix())))
			ev(telemetry.EventKubernetes, svc, it.at, "Liveness probe failed for pod "+pod+": HTTP probe failed with statuscode: 503",
				map[string]string{"reason": "Unhealthy", "type": "Warning", "object": "Pod/" + pod})
		case itFault:
			f := &s.faults[it.i]
			switch it.svc {
			case fxBadDeploy:
				if it.at.Equal(f.Onset) {
					prev := p.version(svcCheckout)
					v := &p.versions[svcCheckout]
					v[1]++
					v[2] = 0
					s.badPrev = prev
					deploy(svcCheckout, it.at, prev, p.version(svcCheckout), false)
				} else {
					bad := p.version(svcCheckout)
					prev := s.badPrev
					if prev == "" {
						prev = bad
					}
					p.versions[svcCheckout] = parseVersion(prev)
					deploy(svcCheckout, it.at, bad, prev, true)
				}
			case fxDBDown:
				ev(telemetry.EventKubernetes, svcPostgres, it.at, "Back-off restarting failed container postgres in pod db-prod-1-0",
					map[string]string{"reason": "BackOff", "type": "Warning", "object": "Pod/db-prod-1-0"})
			}
		}
	}
	for fi := range s.faults {
		f := &s.faults[fi]
		if f.def.fx == fxDBDown && !f.end.Before(day) && f.end.Before(dayEnd) && !f.end.Before(from) {
			ev(telemetry.EventKubernetes, svcPostgres, f.end, "Started container postgres in pod db-prod-1-0",
				map[string]string{"reason": "Started", "type": "Normal", "object": "Pod/db-prod-1-0"})
		}
	}
	slices.SortStableFunc(evs, func(a, b telemetry.Event) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(rs, func(a, b restart) int { return a.at.Compare(b.at) })
	return evs, rs
}

func parseVersion(v string) [3]int {
	var out [3]int
	k := 0
	for i := 1; i < len(v) && k < 3; i++ {
		if v[i] == '.' {
			k++
			continue
		}
		out[k] = out[k]*10 + int(v[i]-'0')
	}
	return out
}

// scalingEvent turns an autoscaler decision into an event.
func (s *Sim) scalingEvent(c scaleChange, at time.Time) telemetry.Event {
	name := svcNames[c.svc]
	dir := "above"
	if c.to < c.from {
		dir = "below"
	}
	return telemetry.Event{
		ID: eventID(s.opts.Seed, telemetry.EventScaling, name, at), Kind: telemetry.EventScaling, Time: at, Service: name,
		Summary: "HorizontalPodAutoscaler " + name + " scaled from " + strconv.Itoa(c.from) + " to " + strconv.Itoa(c.to) + " replicas",
		Labels:  shopLabels(name),
		Attributes: map[string]string{
			"from": strconv.Itoa(c.from), "to": strconv.Itoa(c.to),
			"reason":      "cpu resource utilization (percentage of request) " + dir + " target",
			"utilization": strconv.Itoa(int(c.util*100)) + "%",
		},
	}
}

type configChange struct {
	svc                    int
	summary, key, old, new string
	author                 string
}

var configChanges = []configChange{
	{svcFrontend, "nginx: raised worker_connections", "nginx.worker_connections", "1024", "2048", "platform-team"},
	{svcFrontend, "nginx: enabled gzip for application/json", "nginx.gzip_types", "text/html", "text/html application/json", "platform-team"},
	{svcCatalog, "feature flag search.v2 rolled out to 25%", "flags.search_v2", "0%", "25%", "catalog-team"},
	{svcCatalog, "cache TTL for product pages raised", "cache.product_ttl", "300s", "600s", "catalog-team"},
	{svcGateway, "rate limit for /api/v1/search raised", "ratelimit.search_rps", "30", "50", "platform-team"},
	{svcPayments, "provider timeout raised", "provider.timeout", "8s", "10s", "payments-team"},
	{svcCheckout, "feature flag one-click-checkout enabled", "flags.one_click", "false", "true", "checkout-team"},
	{svcCart, "cart item limit lowered", "cart.max_items", "100", "50", "cart-team"},
}
