package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits on list endpoints: a default that fits a screen, and a cap that
// keeps one request from reading a whole table.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// parseQuery parses the query string strictly: malformed, unknown or
// repeated parameters are 400s naming the parameter, as a misspelt filter
// silently ignored would answer a different question than the one asked.
func parseQuery(r *http.Request, known ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, CodeBadRequest, "malformed query string: %v", err)
	}
	for name, vals := range q {
		if !slices.Contains(known, name) {
			return nil, Errorf(http.StatusBadRequest, CodeBadRequest,
				"unknown query parameter %q; known: %s", truncate(name, 40), strings.Join(known, ", "))
		}
		if len(vals) > 1 {
			return nil, Errorf(http.StatusBadRequest, CodeBadRequest, "query parameter %q is given more than once", name)
		}
	}
	return q, nil
}

// queryTime parses an RFC 3339 time parameter; absent is the zero time.
func queryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, Errorf(http.StatusBadRequest, CodeBadRequest,
			"query parameter %q: want an RFC 3339 time such as 2024-05-01T12:00:00Z, got %q", name, truncate(v, 40))
	}
	return t, nil
}

// queryRange parses from and to, and checks that they make a range.
func queryRange(q url.Values) (from, to time.Time, err error) {
	if from, err = queryTime(q, "from"); err != nil {
		return from, to, err
	}
	if to, err = queryTime(q, "to"); err != nil {
		return from, to, err
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, Errorf(http.StatusBadRequest, CodeBadRequest, "query parameter \"from\" must be before \"to\"")
	}
	return from, to, nil
}

// queryLimit parses limit: 1 to maxListLimit, defaultListLimit when absent.
func queryLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return defaultListLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, Errorf(http.StatusBadRequest, CodeBadRequest,
			"query parameter \"limit\": want an integer from 1 to %d, got %q", maxListLimit, truncate(v, 40))
	}
	return n, nil
}

// queryBool parses a true/false parameter; set reports whether it was given.
func queryBool(q url.Values, name string) (val, set bool, err error) {
	v := q.Get(name)
	switch v {
	case "":
		return false, false, nil
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, Errorf(http.StatusBadRequest, CodeBadRequest,
		"query parameter %q: want true or false, got %q", name, truncate(v, 40))
}
