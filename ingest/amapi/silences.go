package amapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/correlate/silence"
)

// maxSilenceBody bounds a silence POST: a silence is a few matchers and a
// comment, so 1 MiB leaves room without letting a client fill memory.
const maxSilenceBody = 1 << 20

// matcherJSON is models.Matcher. IsEqual defaults to true when absent, as
// in Alertmanager (older amtool versions do not send it).
type matcherJSON struct {
	Name    *string `json:"name"`
	Value   *string `json:"value"`
	IsRegex *bool   `json:"isRegex"`
	IsEqual *bool   `json:"isEqual,omitempty"`
}

// postableSilence is models.PostableSilence.
type postableSilence struct {
	ID        string        `json:"id,omitempty"`
	Matchers  []matcherJSON `json:"matchers"`
	StartsAt  *time.Time    `json:"startsAt"`
	EndsAt    *time.Time    `json:"endsAt"`
	CreatedBy *string       `json:"createdBy"`
	Comment   *string       `json:"comment"`
}

// DecodeSilence decodes a POST /api/v2/silences body into a Silence,
// checking what Alertmanager's API schema requires (matchers with name,
// value and isRegex; startsAt, endsAt, createdBy and comment). It does not
// check times against the clock: silence.Silences.Set does.
func DecodeSilence(body []byte) (silence.Silence, error) {
	var ps postableSilence
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&ps); err != nil {
		return silence.Silence{}, fmt.Errorf("%w: body is not a silence object: %v", silence.ErrInvalid, err)
	}
	if dec.More() {
		return silence.Silence{}, fmt.Errorf("%w: trailing data after the silence object", silence.ErrInvalid)
	}
	var missing []string
	for _, f := range []struct {
		name string
		nil  bool
	}{{"startsAt", ps.StartsAt == nil}, {"endsAt", ps.EndsAt == nil}, {"createdBy", ps.CreatedBy == nil}, {"comment", ps.Comment == nil}, {"matchers", ps.Matchers == nil}} {
		if f.nil {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return silence.Silence{}, fmt.Errorf("%w: missing %s", silence.ErrInvalid, strings.Join(missing, ", "))
	}
	sil := silence.Silence{ID: ps.ID, StartsAt: *ps.StartsAt, EndsAt: *ps.EndsAt, CreatedBy: *ps.CreatedBy, Comment: *ps.Comment}
	for i, m := range ps.Matchers {
		if m.Name == nil || m.Value == nil || m.IsRegex == nil {
			return silence.Silence{}, fmt.Errorf("%w: matchers[%d]: name, value and isRegex are required", silence.ErrInvalid, i)
		}
		isEqual := m.IsEqual == nil || *m.IsEqual
		mt, err := silence.MatcherFrom(*m.Name, *m.Value, *m.IsRegex, isEqual)
		if err != nil {
			return silence.Silence{}, fmt.Errorf("matchers[%d]: %w", i, err)
		}
		sil.Matchers = append(sil.Matchers, mt)
	}
	return sil, nil
}

// gettableSilence is models.GettableSilence.
type gettableSilence struct {
	ID     string `json:"id"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
	UpdatedAt string           `json:"updatedAt"`
	Matchers  []matcherOutJSON `json:"matchers"`
	StartsAt  string           `json:"startsAt"`
	EndsAt    string           `json:"endsAt"`
	CreatedBy string           `json:"createdBy"`
	Comment   string           `json:"comment"`
}

type matcherOutJSON struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

func toGettable(s *silence.Silence, now time.Time) gettableSilence {
	g := gettableSilence{
		ID: s.ID, UpdatedAt: formatTime(s.UpdatedAt), StartsAt: formatTime(s.StartsAt), EndsAt: formatTime(s.EndsAt),
		CreatedBy: s.CreatedBy, Comment: s.Comment, Matchers: make([]matcherOutJSON, 0, len(s.Matchers)),
	}
	g.Status.State = string(s.State(now))
	for _, m := range s.Matchers {
		g.Matchers = append(g.Matchers, matcherOutJSON{
			Name: m.Name, Value: m.Value,
			IsRegex: m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp,
			IsEqual: m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp,
		})
	}
	return g
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeAMError(w, http.StatusInternalServerError, "encode answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// silenceMatchesFilter is Alertmanager's filter for GET /api/v2/silences:
// each filter matcher is applied to the value the silence's matcher of that
// name has; a filter for an empty value also accepts silences without such
// a matcher.
func silenceMatchesFilter(s *silence.Silence, filter []*labels.Matcher) bool {
	vals := make(map[string]string, len(s.Matchers))
	for _, m := range s.Matchers {
		vals[m.Name] = m.Value
	}
	for _, f := range filter {
		v, ok := vals[f.Name]
		switch f.Type {
		case labels.MatchNotEqual, labels.MatchNotRegexp:
			if f.Value == "" && ok {
				continue
			}
		default:
			if f.Value == "" && !ok {
				continue
			}
		}
		if !f.Matches(v) {
			return false
		}
	}
	return true
}

func (r *Receiver) getSilences(w http.ResponseWriter, req *http.Request) {
	filter, err := parseFilters(req.URL.Query()["filter"])
	if err != nil {
		writeAMError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := r.opts.Now()
	list := r.opts.Silences.Query(now, func(s *silence.Silence) bool { return silenceMatchesFilter(s, filter) })
	out := make([]gettableSilence, len(list))
	for i := range list {
		out[i] = toGettable(&list[i], now)
	}
	writeJSON(w, http.StatusOK, out)
}

func (r *Receiver) postSilence(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxSilenceBody+1))
	if err != nil {
		writeAMError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if len(body) > maxSilenceBody {
		writeAMError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("silence body larger than %d bytes", maxSilenceBody))
		return
	}
	sil, err := DecodeSilence(body)
	if err != nil {
		writeAMError(w, http.StatusBadRequest, err.Error())
		return
	}
	id, err := r.opts.Silences.Set(req.Context(), sil, r.opts.Now())
	switch {
	case errors.Is(err, silence.ErrNotFound):
		writeAMError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, silence.ErrInvalid), errors.Is(err, silence.ErrTooLong), errors.Is(err, silence.ErrFull):
		writeAMError(w, http.StatusBadRequest, "failed to create silence: "+err.Error())
		return
	case err != nil:
		writeAMError(w, http.StatusInternalServerError, "failed to create silence: "+err.Error())
		return
	}
	r.opts.Logger.Info("silence set", "id", id, "created_by", sil.CreatedBy, "matchers", sil.Matchers.String(), "ends_at", sil.EndsAt)
	writeJSON(w, http.StatusOK, map[string]string{"silenceID": id})
}

func (r *Receiver) getSilence(w http.ResponseWriter, req *http.Request) {
	s, err := r.opts.Silences.Get(req.PathValue("id"))
	if err != nil {
		writeAMError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, toGettable(&s, r.opts.Now()))
}

func (r *Receiver) deleteSilence(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	err := r.opts.Silences.Expire(req.Context(), id, r.opts.Now())
	switch {
	case errors.Is(err, silence.ErrNotFound):
		writeAMError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, silence.ErrInvalid):
		writeAMError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		writeAMError(w, http.StatusInternalServerError, err.Error())
	default:
		r.opts.Logger.Info("silence expired", "id", id)
		w.WriteHeader(http.StatusOK)
	}
}
