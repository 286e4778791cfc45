package correlate

import (
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

// ignoredLabels name instances, not problems: two alerts that differ only
// in them are the same kind of trouble, and those that share only them
// (severity, say) are not similar at all.
var ignoredLabels = map[string]bool{
	"alertname": true, "severity": true, "instance": true, "pod": true, "node": true, "host": true,
	"hostname": true, "job": true, "service": true, "service_name": true, "container": true,
	"namespace": true, "prometheus": true, "replica": true, "endpoint": true, "app": true,
}

// maxTokens bounds the tokens kept per signal, so that a pathological
// template cannot make similarity expensive.
const maxTokens = 32

// tokenSet is a sorted set of token hashes.
type tokenSet []uint64

// tokensOf returns the token set of a signal's name, labels and text:
// words split at case changes, digits and punctuation, lowercased, with
// numbers and one-letter words dropped (they are values, not meaning).
func tokensOf(name string, ls telemetry.Labels, text string) tokenSet {
	var ts tokenSet
	add := func(s string) {
		splitWords(s, func(h uint64) {
			if len(ts) < maxTokens {
				ts = append(ts, h)
			}
		})
	}
	add(name)
	for _, l := range ls {
		if !ignoredLabels[l.Name] {
			add(l.Value)
		}
	}
	add(text)
	slices.Sort(ts)
	return slices.Compact(ts)
}

// splitWords calls emit with the FNV-1a hash of each lowercased word of s.
func splitWords(s string, emit func(uint64)) {
	const offset, prime = 14695981039346656037, 1099511628211
	h, n := uint64(offset), 0
	flush := func() {
		if n > 1 {
			emit(h)
		}
		h, n = offset, 0
	}
	var prev rune
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case unicode.IsLetter(r):
			// A case change starts a word: HighErrorRate → high error rate.
			if unicode.IsUpper(r) && n > 0 && unicode.IsLower(prev) {
				flush()
			}
			lr := unicode.ToLower(r)
			var buf [4]byte
			k := utf8.EncodeRune(buf[:], lr)
			for _, b := range buf[:k] {
				h = (h ^ uint64(b)) * prime
			}
			n++
		default:
			flush()
		}
		prev = r
	}
	flush()
}

// jaccard is |a∩b| / |a∪b| of two sorted sets; 0 when both are empty.
func jaccard(a, b tokenSet) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	inter, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			inter++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}
