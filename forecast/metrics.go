package forecast

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

// metrics instruments Fit. Fit is a function, called for many series with
// the same Registerer, so the collectors are built once per Registerer.
type metrics struct {
	fits     *prometheus.CounterVec // by chosen family, or "error"
	duration prometheus.Histogram
	points   prometheus.Histogram
}

// byRegisterer caches metrics per Registerer.
var byRegisterer sync.Map // prometheus.Registerer -> *metrics

func metricsFor(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	if m, ok := byRegisterer.Load(reg); ok {
		return m.(*metrics)
	}
	m := &metrics{
		fits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_forecast_fits_total",
			Help: "Models fitted, by the family the backtest chose (error: the fit failed).",
		}, []string{"family"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_forecast_fit_duration_seconds",
			Help:    "Time to fit one series, the model choice included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
		}),
		points: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_forecast_fit_points",
			Help:    "History points (on the regular grid) per fit.",
			Buckets: prometheus.ExponentialBuckets(16, 4, 8),
		}),
	}
	// A clashing registration leaves the collector unregistered but
	// usable: metrics are never a reason for a fit to fail.
	m.fits, _ = promreg.Register(reg, m.fits)
	m.duration, _ = promreg.Register(reg, m.duration)
	m.points, _ = promreg.Register(reg, m.points)
	actual, _ := byRegisterer.LoadOrStore(reg, m)
	return actual.(*metrics)
}

// family is the model family of a model name: the part before "(" or "+".
func family(name string) string {
	if i := strings.IndexAny(name, "(+"); i >= 0 {
		return name[:i]
	}
	return name
}
