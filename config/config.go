// Package config holds Vigil's configuration schema, its defaults and its
// validation. Configuration comes from one YAML file, then environment
// overrides (VIGIL_<PATH>, e.g. VIGIL_API_LISTEN), then command-line flags.
//
// Invariant: a Config returned by Load has passed Validate; every error from
// Load names the key that is wrong and, when it came from the file, the file
// and line.
package config

import (
	"time"

	"github.com/vigilops/vigil/store"
)

// Config is the whole of Vigil's configuration.
type Config struct {
	// DataDir holds the embedded store and any state files.
	DataDir string    `yaml:"data_dir"`
	Log     LogConfig `yaml:"log"`
	API     APIConfig `yaml:"api"`
	Store   Store     `yaml:"store"`
	Bus     Bus       `yaml:"bus"`
	Ingest  Ingest    `yaml:"ingest"`
	Metrics Metrics   `yaml:"metrics"`
	Sources Sources   `yaml:"sources"`
	Demo    Demo      `yaml:"demo"`
	Copilot Copilot   `yaml:"copilot"`
	// Alerting, Notify, Incidents and SLO: see alerting.go.
	Alerting  Alerting  `yaml:"alerting"`
	Notify    Notify    `yaml:"notify"`
	Incidents Incidents `yaml:"incidents"`
	SLO       SLO       `yaml:"slo"`
	// Diagnose and Act: root-cause analysis of incidents and guarded
	// remediation (see diagnose.go and act.go).
	Diagnose Diagnose `yaml:"diagnose"`
	Act      Act      `yaml:"act"`
	// Detect tunes metric anomaly detection; KEDAScaler serves forecasts
	// to KEDA (see detect.go and kedascaler.go).
	Detect     Detect     `yaml:"detect"`
	KEDAScaler KEDAScaler `yaml:"kedascaler"`
}

// LogConfig sets Vigil's own logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// APIConfig sets the HTTP API server.
type APIConfig struct {
	Listen       string `yaml:"listen"`
	MaxBodyBytes Size   `yaml:"max_body_bytes"`
	// AnonymousRole is granted to requests without a token: "" (none) or
	// viewer. Mutations always need a token.
	AnonymousRole   store.Role `yaml:"anonymous_role"`
	ShutdownTimeout Duration   `yaml:"shutdown_timeout"`
}

// Store selects and tunes persistence.
type Store struct {
	Backend       string   `yaml:"backend"` // sqlite
	Retention     Duration `yaml:"retention"`
	PruneInterval Duration `yaml:"prune_interval"`
}

// Bus selects and tunes the message bus.
type Bus struct {
	Backend   string `yaml:"backend"` // local
	QueueSize int    `yaml:"queue_size"`
}

// Demo drives Vigil with the built-in simulator.
type Demo struct {
	Enabled bool `yaml:"enabled"`
	// Speed is simulated seconds per real second.
	Speed float64 `yaml:"speed"`
	Seed  int64   `yaml:"seed"`
	// Step is the simulator's metric resolution.
	Step Duration `yaml:"step"`
}

// Default returns the configuration used when no file is given: everything
// embedded, listening on loopback only.
func Default() Config {
	return Config{
		DataDir: "./vigil-data",
		Log:     LogConfig{Level: "info", Format: "text"},
		API: APIConfig{
			Listen:          "127.0.0.1:9380",
			MaxBodyBytes:    4 << 20,
			ShutdownTimeout: Duration(15 * time.Second),
		},
		Store: Store{
			Backend:       "sqlite",
			Retention:     Duration(30 * 24 * time.Hour),
			PruneInterval: Duration(time.Hour),
		},
		Bus:     Bus{Backend: "local", QueueSize: 1024},
		Ingest:  defaultIngest(),
		Metrics: defaultMetrics(),
		Demo:    Demo{Speed: 60, Seed: 1, Step: Duration(30 * time.Second)},
		Copilot: defaultCopilot(),

		Alerting:   defaultAlerting(),
		Notify:     defaultNotify(),
		Incidents:  defaultIncidents(),
		SLO:        defaultSLO(),
		Diagnose:   defaultDiagnose(),
		Act:        defaultAct(),
		Detect:     defaultDetect(),
		KEDAScaler: defaultKEDAScaler(),
	}
}
