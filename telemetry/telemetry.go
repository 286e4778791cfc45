// Package telemetry holds the plain value types that every Vigil pipeline step
// shares: log records, metric samples and series, Alertmanager-shaped alerts,
// and change events (deploys, config changes, scaling, Kubernetes events).
//
// The types carry no behaviour beyond what every consumer needs (sorting,
// lookup, fingerprints). Invariant: a Labels value is sorted by name and has
// unique names whenever it was built through this package's constructors, so
// fingerprints computed from it are stable across processes and versions.
package telemetry
