package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

const (
	// maxEventIDLen bounds client-chosen event IDs, which become store keys.
	maxEventIDLen = 128
	// maxErrorDetails bounds the details of one error: enough to fix a
	// batch, not a second copy of it.
	maxErrorDetails = 100
	// publishTimeout bounds PublishEvents. The events are stored by then,
	// so a stuck bus must not hold the client (or shutdown) forever.
	publishTimeout = 10 * time.Second
)

// eventWire is telemetry.Event as received. Its Time shadows the embedded
// one (encoding/json prefers the shallower field) so that a missing time can
// be told from a zero one, and a wrong one names the field.
type eventWire struct {
	telemetry.Event
	Time wireTime `json:"time"`
}

// wireTime is an RFC 3339 time that remembers whether it was sent.
type wireTime struct {
	t   time.Time
	set bool
}

func (w *wireTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	// An *json.UnmarshalTypeError gets the field path added by the decoder,
	// which is what makes the message name "time".
	if len(b) == 0 || b[0] != '"' {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: timeType}
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(truncate(s, 40)), Type: timeType}
	}
	w.t, w.set = t, true
	return nil
}

// jsonKind names the kind of a raw JSON value as encoding/json does.
func jsonKind(b []byte) string {
	b = trimJSONSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// rejection is one event of a batch that was not stored.
type rejection struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// eventsAccepted answers POST /api/v1/events.
type eventsAccepted struct {
	Accepted int `json:"accepted"`
	// IDs are the accepted events' IDs, in request order, assigned ones
	// included, so a client can refer to what it sent.
	IDs      []string    `json:"ids"`
	Rejected []rejection `json:"rejected"`
}

// postEvents stores change events: one object or an array of them. Valid
// events are stored even when others in the batch are not; the answer lists
// the rejected ones by index. A 200 means the accepted events are durable.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) error {
	raws, err := decodeEventBatch(r)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	evs := make([]telemetry.Event, 0, len(raws))
	ids := make([]string, 0, len(raws))
	rejected := []rejection{}
	for i, raw := range raws {
		ev, err := decodeEvent(raw, now)
		if err != nil {
			rejected = append(rejected, rejection{Index: i, Reason: err.Error()})
			continue
		}
		evs = append(evs, ev)
		ids = append(ids, ev.ID)
	}
	s.metrics.eventsRejected.Add(float64(len(rejected)))
	if len(evs) == 0 {
		e := Errorf(http.StatusBadRequest, CodeBadRequest, "no valid events in the request")
		for i, rj := range rejected {
			if i == maxErrorDetails {
				e.Details = append(e.Details, fmt.Sprintf("and %d more", len(rejected)-i))
				break
			}
			e.Details = append(e.Details, fmt.Sprintf("index %d: %s", rj.Index, rj.Reason))
		}
		return e
	}
	if err := s.opts.Events.AppendEvents(r.Context(), evs); err != nil {
		return fmt.Errorf("store events: %w", err)
	}
	s.metrics.eventsAccepted.Add(float64(len(evs)))
	if s.opts.PublishEvents != nil {
		// Publishing outlives a client that hangs up: the events are stored,
		// and the live pipeline should see them all the same.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), publishTimeout)
		err := s.opts.PublishEvents(ctx, evs)
		cancel()
		if err != nil {
			s.logger.Warn("publish stored events", "events", len(evs), "err", err)
		}
	}
	WriteJSON(w, http.StatusOK, eventsAccepted{Accepted: len(evs), IDs: ids, Rejected: rejected})
	return nil
}

// decodeEventBatch splits the body into raw events: a lone object is a
// batch of one. Malformed JSON fails the whole request, since no event in it
// can be trusted; per-event problems are left to decodeEvent.
func decodeEventBatch(r *http.Request) ([]json.RawMessage, error) {
	data, err := readJSONBody(r)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	switch trimJSONSpace(data)[0] {
	case '[':
		err = decodeJSONValue(data, &raws)
	default:
		var one json.RawMessage
		if err = decodeJSONValue(data, &one); err == nil {
			if trimJSONSpace(one)[0] != '{' {
				err = fmt.Errorf("want an event object or an array of them, got %s", jsonValueName(jsonKind(one)))
			}
			raws = []json.RawMessage{one}
		}
	}
	switch {
	case err != nil:
		return nil, Errorf(http.StatusBadRequest, CodeBadRequest, "%s", err)
	case len(raws) == 0:
		return nil, Errorf(http.StatusBadRequest, CodeBadRequest, "the request holds no events")
	}
	return raws, nil
}

// decodeEvent decodes and checks one event, filling in what a sender may
// leave out: the time (when received) and the ID.
func decodeEvent(raw []byte, now time.Time) (telemetry.Event, error) {
	var w eventWire
	if err := decodeJSONValue(raw, &w); err != nil {
		return telemetry.Event{}, err
	}
	ev := w.Event
	ev.Time = w.Time.t
	if !w.Time.set {
		ev.Time = now
	}
	if len(ev.ID) > maxEventIDLen {
		return telemetry.Event{}, fmt.Errorf("field \"id\": want at most %d bytes, got %d", maxEventIDLen, len(ev.ID))
	}
	if !ev.Labels.Valid() {
		return telemetry.Event{}, fmt.Errorf("field \"labels\": label names must not be empty")
	}
	if err := ev.Validate(); err != nil {
		return telemetry.Event{}, err
	}
	if ev.ID == "" {
		ev.ID = randomHex(16)
	}
	return ev, nil
}

// getEvents lists stored events, newest first.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "service", "kind", "from", "to", "limit")
	if err != nil {
		return err
	}
	eq := store.EventQuery{Service: q.Get("service"), Kind: telemetry.EventKind(q.Get("kind"))}
	if eq.Kind != "" && !eq.Kind.Valid() {
		return Errorf(http.StatusBadRequest, CodeBadRequest,
			"query parameter \"kind\": want deploy, config_change, scaling or kubernetes, got %q", truncate(string(eq.Kind), 40))
	}
	if eq.From, eq.To, err = queryRange(q); err != nil {
		return err
	}
	if eq.Limit, err = queryLimit(q); err != nil {
		return err
	}
	evs, err := s.opts.Events.Events(r.Context(), eq)
	if err != nil {
		return fmt.Errorf("query events: %w", err)
	}
	if evs == nil {
		evs = []telemetry.Event{} // [] rather than null, for clients that iterate
	}
	WriteJSON(w, http.StatusOK, struct {
		Events []telemetry.Event `json:"events"`
	}{evs})
	return nil
}
