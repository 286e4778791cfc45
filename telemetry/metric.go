package telemetry

import "time"

// Sample is one value of one series at one instant.
type Sample struct {
	Labels Labels `json:"labels"`
	// T is the timestamp in milliseconds since the Unix epoch, as in
	// Prometheus remote write.
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// Time returns the sample's timestamp as a time.Time in UTC.
func (s Sample) Time() time.Time { return time.UnixMilli(s.T).UTC() }

// Point is a timestamped value without labels.
type Point struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// Series is a labelled run of points in increasing time order.
type Series struct {
	Labels Labels  `json:"labels"`
	Points []Point `json:"points"`
}

// MetricName returns the value of the __name__ label.
func (s Series) MetricName() string { return s.Labels.Get(MetricNameLabel) }

// MetricNameLabel is the label that holds a metric's name.
const MetricNameLabel = "__name__"
