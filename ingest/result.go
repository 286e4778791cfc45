package ingest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Rejection is one record refused from a batch, and why.
type Rejection struct {
	// Index is the record's position in the batch as the sender sent it
	// (for nested formats, the position in the flattened order the
	// receiver documents, e.g. stream then entry).
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// Result reports what happened to a batch.
type Result struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected,omitempty"`
	rejected int         // total refused, listed or not
}

// MaxReportedRejections bounds the rejections listed in one answer; the
// count is always exact.
const MaxReportedRejections = 100

// Reject records a refused record. Past MaxReportedRejections only the
// count grows, so a garbage batch cannot produce a huge answer.
func (r *Result) Reject(index int, reason string) {
	r.rejected++
	if len(r.Rejected) < MaxReportedRejections {
		r.Rejected = append(r.Rejected, Rejection{Index: index, Reason: reason})
	}
}

// RejectedCount is the number of refused records, including those not listed.
func (r *Result) RejectedCount() int {
	if r.rejected < len(r.Rejected) {
		return len(r.Rejected)
	}
	return r.rejected
}

// resultBody is the JSON answer for a batch with rejections.
type resultBody struct {
	Accepted      int         `json:"accepted"`
	RejectedCount int         `json:"rejected_count"`
	Rejected      []Rejection `json:"rejected"`
	Error         string      `json:"error"`
}

// WriteResult answers a batch: okStatus (the protocol's success code, e.g.
// 204 for Loki and remote write, 200 for Alertmanager) when nothing was
// rejected; otherwise 400 with the accepted count and every rejection, the
// good records having been kept. 400 rather than 207 because the senders we
// speak to (Prometheus, Promtail, collectors) treat 4xx as "do not retry",
// which is right: retrying would not make a bad record good.
func WriteResult(w http.ResponseWriter, res Result, okStatus int) {
	if res.RejectedCount() == 0 {
		w.WriteHeader(okStatus)
		return
	}
	body := resultBody{
		Accepted: res.Accepted, RejectedCount: res.RejectedCount(), Rejected: res.Rejected,
		Error: strconv.Itoa(res.RejectedCount()) + " record(s) rejected, " + strconv.Itoa(res.Accepted) + " accepted",
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(body)
}

// ErrorStatus is the status WriteError answers for err: 429 for
// ErrBackpressure, the BodyError's status for body problems, else status.
func ErrorStatus(err error, status int) int {
	var be *BodyError
	switch {
	case errors.Is(err, ErrBackpressure):
		return http.StatusTooManyRequests
	case errors.As(err, &be):
		return be.Status
	}
	return status
}

// DefaultRetryAfter is what a 429 asks senders to wait.
const DefaultRetryAfter = time.Second

// WriteError answers a request that failed as a whole: 429 with Retry-After
// for ErrBackpressure, the BodyError's status for body problems, 400 for
// anything else the caller marks as bad input via status.
func WriteError(w http.ResponseWriter, err error, status int) {
	status = ErrorStatus(err, status)
	if errors.Is(err, ErrBackpressure) {
		w.Header().Set("Retry-After", strconv.Itoa(int(DefaultRetryAfter/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
