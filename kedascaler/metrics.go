package kedascaler

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

// Fallback reasons, as counted in vigil_kedascaler_fallbacks_total and
// reported in Decision.Fallback.
const (
	FallbackUnsure       = "unsure"        // the 80% interval is too wide for the mean
	FallbackStaleData    = "stale_data"    // no fresh point within maxStaleness
	FallbackStaleFit     = "stale_fit"     // the model's fit ends more than maxFitAge ago
	FallbackFitError     = "fit_error"     // the forecaster failed or returned nothing usable
	FallbackHistoryError = "history_error" // History failed; the cached points were used
)

// metrics is the scaler's self-instrumentation. The per-object gauges are
// bounded by Options.MaxObjects: an evicted object's series are deleted.
type metrics struct {
	peak      *prometheus.GaugeVec   // namespace, name
	served    *prometheus.GaugeVec   // namespace, name
	fallbacks *prometheus.CounterVec // reason
	guards    *prometheus.CounterVec // guard
	rpcs      *prometheus.CounterVec // method, code
	evals     prometheus.Counter
	streams   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		peak: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_kedascaler_forecast_peak",
			Help: "Latest raw forecast peak (max over the horizon of the forecast quantile) per scaled object, before guards and fallbacks.",
		}, []string{"namespace", "name"}),
		served: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_kedascaler_served_value",
			Help: "Latest metric value served to KEDA per scaled object, after fallbacks and guards.",
		}, []string{"namespace", "name"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_kedascaler_fallbacks_total",
			Help: "Evaluations that served the current value instead of the forecast, by reason.",
		}, []string{"reason"}),
		guards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_kedascaler_guard_actions_total",
			Help: "Evaluations in which a guard changed the served value, by guard (the flapping guards, the ramp extrapolation, the placement for the HPA's tolerance band).",
		}, []string{"guard"}),
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_kedascaler_rpcs_total",
			Help: "External-scaler RPCs handled, by method and gRPC status code.",
		}, []string{"method", "code"}),
		evals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_kedascaler_evaluations_total",
			Help: "Evaluations run (requests answered from the previous decision are not counted).",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_kedascaler_streams_active",
			Help: "StreamIsActive streams currently open.",
		}),
	}
	var err error
	if m.peak, err = promreg.Register(reg, m.peak); err != nil {
		return nil, err
	}
	if m.served, err = promreg.Register(reg, m.served); err != nil {
		return nil, err
	}
	if m.fallbacks, err = promreg.Register(reg, m.fallbacks); err != nil {
		return nil, err
	}
	if m.guards, err = promreg.Register(reg, m.guards); err != nil {
		return nil, err
	}
	if m.rpcs, err = promreg.Register(reg, m.rpcs); err != nil {
		return nil, err
	}
	if m.evals, err = promreg.Register(reg, m.evals); err != nil {
		return nil, err
	}
	if m.streams, err = promreg.Register(reg, m.streams); err != nil {
		return nil, err
	}
	return m, nil
}
