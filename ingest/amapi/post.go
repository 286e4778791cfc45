package amapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// postableAlert is models.PostableAlert as it travels: Prometheus' notifier,
// vmalert and amtool all send a JSON array of these.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     jsonTime          `json:"startsAt"`
	EndsAt       jsonTime          `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// errNotArray answers a body that is not a JSON array.
var errNotArray = errors.New("body must be a JSON array of alerts")

func (r *Receiver) postAlertsV2(w http.ResponseWriter, req *http.Request) {
	r.postAlerts(w, req, false)
}

// postAlertsV1 serves the Alertmanager API v1 path that older senders still
// use; the body is the same, and success answers as v1 did.
func (r *Receiver) postAlertsV1(w http.ResponseWriter, req *http.Request) {
	r.postAlerts(w, req, true)
}

func (r *Receiver) postAlerts(w http.ResponseWriter, req *http.Request, v1 bool) {
	body, err := ingest.ReadBody(req, r.opts.Limits, false)
	if err != nil {
		ingest.WriteError(w, err, http.StatusBadRequest)
		return
	}
	now := r.opts.Now()
	var res ingest.Result
	alerts, idx, err := r.decodeAlerts(body, now, &res)
	if err != nil {
		ingest.WriteError(w, err, http.StatusBadRequest)
		return
	}

	// Admit against the State's cap before delivery, so that an alert is
	// either in both the pipeline and the State, or refused from both.
	fps := make([]telemetry.Fingerprint, len(alerts))
	for i := range alerts {
		fps[i] = alerts[i].Fingerprint()
	}
	ok := make([]bool, len(alerts))
	reserved := r.state.reserve(alerts, fps, now, ok)
	if n := countTrue(ok); n < len(alerts) {
		kept, keptFPs := alerts[:0], fps[:0]
		for i := range alerts {
			if ok[i] {
				kept, keptFPs = append(kept, alerts[i]), append(keptFPs, fps[i])
				continue
			}
			r.reject(&res, idx[i], reasonStateFull, fmt.Sprintf("alert state full (%d alerts): new alerts are refused until resolved ones expire", r.state.opts.MaxAlerts))
		}
		alerts, fps = kept, keptFPs
	}

	if len(alerts) > 0 {
		if err := r.opts.Sink.Alerts(req.Context(), alerts); err != nil {
			r.state.release(reserved)
			writeSinkError(w, err)
			return
		}
	}
	r.state.commit(alerts, fps, reserved, now)
	res.Accepted = len(alerts)
	r.metrics.received.WithLabelValues("alert").Add(float64(len(alerts)))

	sort.SliceStable(res.Rejected, func(i, j int) bool { return res.Rejected[i].Index < res.Rejected[j].Index })
	if v1 && res.RejectedCount() == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"status":"success"}`))
		return
	}
	ingest.WriteResult(w, res, http.StatusOK)
}

// decodeAlerts returns the valid alerts of body, completed as Alertmanager
// completes them, with each one's index in the body; invalid ones are
// rejected into res. err is set only when the body as a whole is unusable.
func (r *Receiver) decodeAlerts(body []byte, now time.Time, res *ingest.Result) (alerts []telemetry.Alert, idx []int, err error) {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '[' {
		return nil, nil, errNotArray
	}
	// Fast path: the whole batch decodes. Otherwise split it into elements,
	// so that one malformed alert costs only itself.
	var batch []postableAlert
	if json.Unmarshal(body, &batch) == nil {
		alerts = make([]telemetry.Alert, 0, len(batch))
		idx = make([]int, 0, len(batch))
		for i := range batch {
			alerts, idx = r.appendAlert(alerts, idx, &batch[i], i, now, res)
		}
		return alerts, idx, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errNotArray, err)
	}
	alerts = make([]telemetry.Alert, 0, len(raws))
	idx = make([]int, 0, len(raws))
	for i, raw := range raws {
		var pa postableAlert
		if err := json.Unmarshal(raw, &pa); err != nil {
			reason := reasonDecode
			if te := (*timeError)(nil); errors.As(err, &te) {
				reason = reasonTime
			}
			r.reject(res, i, reason, "decode alert: "+err.Error())
			continue
		}
		alerts, idx = r.appendAlert(alerts, idx, &pa, i, now, res)
	}
	return alerts, idx, nil
}

func (r *Receiver) appendAlert(alerts []telemetry.Alert, idx []int, pa *postableAlert, i int, now time.Time, res *ingest.Result) ([]telemetry.Alert, []int) {
	a, reason, msg := r.convert(pa, now)
	if reason != "" {
		r.reject(res, i, reason, msg)
		return alerts, idx
	}
	return append(alerts, a), append(idx, i)
}

// convert validates pa and completes its times as Alertmanager's
// postAlertsHandler does. On failure it returns the metric reason and the
// message (Alertmanager's wording where it has one).
func (r *Receiver) convert(pa *postableAlert, now time.Time) (a telemetry.Alert, reason, msg string) {
	a.StartsAt, a.EndsAt = time.Time(pa.StartsAt), time.Time(pa.EndsAt)
	if a.StartsAt.IsZero() {
		if a.EndsAt.IsZero() {
			a.StartsAt = now
		} else {
			a.StartsAt = a.EndsAt
		}
	}
	if a.EndsAt.IsZero() {
		a.EndsAt = now.Add(r.opts.ResolveTimeout)
	}
	if a.EndsAt.Before(a.StartsAt) {
		return a, reasonTime, "start time must be before end time"
	}
	var err error
	if a.Labels, err = buildLabels(pa.Labels, r.opts.LegacyLabelNames); err != nil {
		return a, reasonLabels, "invalid label set: " + err.Error()
	}
	if len(a.Labels) == 0 {
		return a, reasonLabels, "at least one label pair required"
	}
	if a.Annotations, err = buildLabels(pa.Annotations, r.opts.LegacyLabelNames); err != nil {
		return a, reasonAnnotations, "invalid annotations: " + err.Error()
	}
	a.GeneratorURL = pa.GeneratorURL
	a.UpdatedAt = now
	return a, "", ""
}

func (r *Receiver) reject(res *ingest.Result, i int, reason, msg string) {
	res.Reject(i, msg)
	r.metrics.rejected.WithLabelValues(reason).Inc()
}

// buildLabels validates names and returns the sorted set. Empty values are
// dropped, as Alertmanager drops them before validating.
func buildLabels(m map[string]string, legacy bool) (telemetry.Labels, error) {
	if len(m) == 0 {
		return nil, nil
	}
	for k, v := range m {
		if v == "" {
			continue
		}
		if !validLabelName(k, legacy) {
			return nil, fmt.Errorf("invalid name %q", k)
		}
	}
	ls := telemetry.LabelsFromMap(m)
	if len(ls) == 0 {
		return nil, nil
	}
	return ls, nil
}

// writeSinkError answers a batch the Sink refused: 429 with Retry-After on
// backpressure, 503 otherwise (the pipeline is closing or broken; the
// sender's retry is right either way).
func writeSinkError(w http.ResponseWriter, err error) {
	ingest.WriteError(w, fmt.Errorf("deliver alerts: %w", err), http.StatusServiceUnavailable)
}

// jsonTime accepts the date-time forms Alertmanager's API accepts in
// practice: RFC 3339 with any fraction, also without the colon in the
// offset, and null or "" for absent. Alertmanager's zero time
// ("0001-01-01T00:00:00Z") decodes to the zero time, hence absent too.
type jsonTime time.Time

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
}

// timeError is a startsAt or endsAt that is not a time; it is told apart
// from other decode errors for the rejection reason.
type timeError struct{ msg string }

func (e *timeError) Error() string { return e.msg }

// UnmarshalJSON implements json.Unmarshaler.
func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = jsonTime{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' {
		return &timeError{fmt.Sprintf("time must be a string, got %.40s", b)}
	}
	s := string(b[1 : len(b)-1])
	if bytes.IndexByte(b, '\\') >= 0 {
		if err := json.Unmarshal(b, &s); err != nil {
			return &timeError{"time: " + err.Error()}
		}
	}
	if s == "" {
		*t = jsonTime{}
		return nil
	}
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			*t = jsonTime(v)
			return nil
		}
	}
	return &timeError{fmt.Sprintf("time %q is not RFC 3339", truncate(s, 64))}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
