package otlp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/vigilops/vigil/ingest"
)

// errDecode marks a body that is not a valid Export*ServiceRequest: 400.
var errDecode = errors.New("undecodable otlp body")

// signal is what differs between /v1/logs, /v1/metrics and /v1/traces.
type signal struct {
	name string // path element and metric label: logs, metrics, traces
	kind string // what partial_success counts
	// export decodes, converts and delivers one body; items are numbered
	// for rejections in the request's flattened order (resource, scope,
	// item). A decode failure wraps errDecode; a Sink error is returned
	// as is.
	export func(ctx context.Context, body []byte, enc encoding, now time.Time, rej *rejections) (received, accepted int, err error)
	// response marshals the signal's Export*ServiceResponse.
	response func(enc encoding, rejected int64, msg string) ([]byte, error)
}

// signals builds the three signals once, at New.
func (rc *Receiver) signals() [3]signal {
	return [3]signal{
		{name: "logs", kind: kindLogRecords, export: rc.exportLogs, response: logsResponse},
		{name: "metrics", kind: kindDataPoints, export: rc.exportMetrics, response: metricsResponse},
		{name: "traces", kind: kindSpans, export: rc.exportTraces, response: tracesResponse},
	}
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request, sig *signal) {
	start := time.Now()
	code := rc.handle(w, r, sig)
	rc.m.requests.WithLabelValues(sig.name, strconv.Itoa(code)).Inc()
	rc.m.duration.WithLabelValues(sig.name).Observe(time.Since(start).Seconds())
}

// handle answers one export request and returns the HTTP status it wrote.
func (rc *Receiver) handle(w http.ResponseWriter, r *http.Request, sig *signal) int {
	ct := r.Header.Get("Content-Type")
	enc, mediaType, ok := parseContentType(ct)
	if !ok {
		// The encoding of the answer is unknown too; the spec's default
		// is binary protobuf.
		writeStatus(w, encProto, typeProto, http.StatusUnsupportedMediaType,
			fmt.Sprintf("content type %q is not supported: send %s or %s", ct, typeProto, typeJSON))
		return http.StatusUnsupportedMediaType
	}
	body, err := ingest.ReadBody(r, rc.opts.Limits, false)
	if err != nil {
		status := http.StatusBadRequest
		var be *ingest.BodyError
		if errors.As(err, &be) {
			status = be.Status
		}
		writeStatus(w, enc, mediaType, status, err.Error())
		return status
	}
	var rej rejections
	received, accepted, err := sig.export(r.Context(), body, enc, rc.opts.Now(), &rej)
	switch {
	case errors.Is(err, errDecode):
		writeStatus(w, enc, mediaType, http.StatusBadRequest, err.Error())
		return http.StatusBadRequest
	case errors.Is(err, ingest.ErrBackpressure):
		rc.m.observe(sig.kind, received, 0, &rejections{})
		writeStatus(w, enc, mediaType, http.StatusTooManyRequests, "vigil pipeline is full, retry later")
		return http.StatusTooManyRequests
	case err != nil:
		// Not the data's fault (the bus is closing, the client went
		// away): 503 is retryable, so the exporter keeps the data.
		rc.opts.Logger.Warn("otlp delivery failed", "signal", sig.name, "err", err)
		rc.m.observe(sig.kind, received, 0, &rejections{})
		writeStatus(w, enc, mediaType, http.StatusServiceUnavailable, "deliver "+sig.name+": "+err.Error())
		return http.StatusServiceUnavailable
	}
	rc.m.observe(sig.kind, received, accepted, &rej)
	// Rejections answer 200 with partial_success, not ingest.WriteResult's
	// 400: that is how OTLP says "the rest was kept, do not retry".
	var msg string
	if rej.count() > 0 {
		msg = partialMessage(&rej, received, sig.kind)
	}
	resp, err := sig.response(enc, int64(rej.count()), msg)
	if err != nil {
		// The data was delivered; a retry would duplicate it, so this is
		// a 500 (not retried) rather than a 503.
		rc.opts.Logger.Error("otlp encode response", "signal", sig.name, "err", err)
		writeStatus(w, enc, mediaType, http.StatusInternalServerError, "encode response: "+err.Error())
		return http.StatusInternalServerError
	}
	writeExport(w, mediaType, resp)
	return http.StatusOK
}

// maxListedRejections bounds the reasons spelled out in error_message; the
// count in rejected_* is always exact.
const maxListedRejections = 10

// partialMessage is the human error_message of partial_success: how many
// were refused, and the first reasons with their item positions.
func partialMessage(rej *rejections, received int, kind string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d %s rejected", rej.count(), received, strings.ReplaceAll(kind, "_", " "))
	for i, r := range rej.res.Rejected {
		if i == maxListedRejections {
			fmt.Fprintf(&b, "; and %d more", rej.count()-i)
			break
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s#%d %s", sep, r.Index, r.Reason)
	}
	return b.String()
}

// decode unmarshals body with the decoder for enc. An empty body is an
// empty request, which the spec says to accept. A panic in the decoder is
// turned into a 400 for that body rather than a crashed request.
func decode(enc encoding, body []byte, proto, json func([]byte) error) (err error) {
	if len(body) == 0 {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: decoder failed: %v", errDecode, p)
		}
	}()
	if enc == encJSON {
		if err := json(body); err != nil {
			return fmt.Errorf("%w: json: %v", errDecode, err)
		}
		return nil
	}
	if err := proto(body); err != nil {
		return fmt.Errorf("%w: protobuf: %v", errDecode, err)
	}
	return nil
}

func (rc *Receiver) exportLogs(ctx context.Context, body []byte, enc encoding, now time.Time, rej *rejections) (int, int, error) {
	req := plogotlp.NewExportRequest()
	if err := decode(enc, body, req.UnmarshalProto, req.UnmarshalJSON); err != nil {
		return 0, 0, err
	}
	ld := req.Logs()
	recs := rc.conv.logs(ld, now, rej)
	received := ld.LogRecordCount()
	if len(recs) > 0 {
		if err := rc.opts.Sink.Logs(ctx, recs); err != nil {
			return received, 0, err
		}
	}
	return received, len(recs), nil
}

func (rc *Receiver) exportMetrics(ctx context.Context, body []byte, enc encoding, now time.Time, rej *rejections) (int, int, error) {
	req := pmetricotlp.NewExportRequest()
	if err := decode(enc, body, req.UnmarshalProto, req.UnmarshalJSON); err != nil {
		return 0, 0, err
	}
	md := req.Metrics()
	samples, points := rc.conv.samples(md, now, rej)
	if len(samples) > 0 {
		if err := rc.opts.Sink.Samples(ctx, samples); err != nil {
			return points, 0, err
		}
	}
	return points, points - rej.count() - rej.skipped, nil
}

func (rc *Receiver) exportTraces(_ context.Context, body []byte, enc encoding, now time.Time, rej *rejections) (int, int, error) {
	req := ptraceotlp.NewExportRequest()
	if err := decode(enc, body, req.UnmarshalProto, req.UnmarshalJSON); err != nil {
		return 0, 0, err
	}
	td := req.Traces()
	spans := rc.conv.spans(td, rej)
	rc.topo.Add(now, spans)
	return td.SpanCount(), len(spans), nil
}

func logsResponse(enc encoding, rejected int64, msg string) ([]byte, error) {
	resp := plogotlp.NewExportResponse()
	if rejected > 0 || msg != "" {
		resp.PartialSuccess().SetRejectedLogRecords(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	if enc == encJSON {
		return resp.MarshalJSON()
	}
	return resp.MarshalProto()
}

func metricsResponse(enc encoding, rejected int64, msg string) ([]byte, error) {
	resp := pmetricotlp.NewExportResponse()
	if rejected > 0 || msg != "" {
		resp.PartialSuccess().SetRejectedDataPoints(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	if enc == encJSON {
		return resp.MarshalJSON()
	}
	return resp.MarshalProto()
}

func tracesResponse(enc encoding, rejected int64, msg string) ([]byte, error) {
	resp := ptraceotlp.NewExportResponse()
	if rejected > 0 || msg != "" {
		resp.PartialSuccess().SetRejectedSpans(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	if enc == encJSON {
		return resp.MarshalJSON()
	}
	return resp.MarshalProto()
}
