package act

import (
	"context"
	"fmt"

	"github.com/vigilops/vigil/act/audit"
)

// EngageKillSwitch stops all execution at once (see Guard.Engage) and
// audits who did it and why.
func (s *Service) EngageKillSwitch(ctx context.Context, by, reason string) int {
	n := s.guard.Engage(by, reason)
	_ = s.audit(ctx, audit.Entry{Kind: audit.KindKillSwitch, Actor: by, Outcome: "engaged",
		Detail: truncate(fmt.Sprintf("%s; %d in-flight execution(s) cancelled", reason, n), 1000)})
	s.logger.Warn("kill switch engaged", "by", by, "reason", reason, "cancelled", n)
	return n
}

// ReleaseKillSwitch lets executions start again.
func (s *Service) ReleaseKillSwitch(ctx context.Context, by string) {
	s.guard.ReleaseKill()
	_ = s.audit(ctx, audit.Entry{Kind: audit.KindKillSwitch, Actor: by, Outcome: "released"})
	s.logger.Warn("kill switch released", "by", by)
}

// KillState is the kill switch as the API shows it.
type KillState struct {
	Engaged bool   `json:"engaged"`
	Reason  string `json:"reason,omitempty"`
	By      string `json:"by,omitempty"`
}

// Engage stops all execution at once: in-flight executions' contexts are
// cancelled with cause ErrKillSwitch, queued ones are rejected, and new
// ones are refused until Release. It returns how many were cancelled.
func (g *Guard) Engage(by, reason string) int {
	g.mtx.Lock()
	defer g.mtx.Unlock()
	if !g.killed {
		g.killed = true
		close(g.killCh)
	}
	g.killWhy, g.killBy = reason, by
	n := 0
	for _, l := range g.leases {
		l.cancel(ErrKillSwitch)
		n++
	}
	g.metrics.killswitch.Set(1)
	return n
}

// ReleaseKill lets executions start again.
func (g *Guard) ReleaseKill() {
	g.mtx.Lock()
	defer g.mtx.Unlock()
	if g.killed {
		g.killed = false
		g.killCh = make(chan struct{})
	}
	g.killWhy, g.killBy = "", ""
	g.metrics.killswitch.Set(0)
}

// Kill returns the kill switch state.
func (g *Guard) Kill() KillState {
	g.mtx.Lock()
	defer g.mtx.Unlock()
	return KillState{Engaged: g.killed, Reason: g.killWhy, By: g.killBy}
}
