package detect

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// What the content detector makes of a value: its kind (for open sets),
// its shape, its place on a log scale.

// ctOpenSet reports whether a new value v of a slot with values vals
// belongs to a set that is open by nature, so that a value not seen yet
// is no news: plain numbers among plain numbers (a quantity or a code:
// the numeric judgement and the rate detectors speak for those) and
// identifiers among identifiers (checksums, hashes, ids).
func ctOpenSet(vals []string, v string) bool {
	for _, kind := range [...]func(string) bool{ctPlainNumber, ctIdentifier} {
		if kind(v) && !slices.ContainsFunc(vals, func(u string) bool { return !kind(u) }) {
			return true
		}
	}
	return false
}

// ctPlainNumber: an optional sign, digits, at most one point.
func ctPlainNumber(v string) bool {
	_, err := strconv.ParseFloat(v, 64)
	return err == nil && v != "" && !strings.ContainsAny(v, "eEinIN")
}

// ctIdentifier: a hex word of at least 8 characters (a hash, a checksum,
// an id), or any word of 8 or more that mixes letters and digits.
func ctIdentifier(v string) bool {
	return ctHexWord(v) || ctMixedWord(v)
}

func ctHexWord(v string) bool {
	if len(v) < 8 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func ctMixedWord(v string) bool {
	if len(v) < 8 {
		return false
	}
	letter, digit := false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c == '-' || c == '_':
		default:
			return false
		}
	}
	return letter && digit
}

// ctLog puts values on a signed log scale so that latencies, sizes and
// counts, whose spread grows with their size, have one notion of "far".
func ctLog(x float64) float64 {
	// Most values are small whole numbers (milliseconds, status codes,
	// counts): for those a table lookup gives the same result as the
	// logarithm at a fraction of its cost.
	if x >= 0 && x < float64(len(ctLogTab)) {
		if i := int(x); float64(i) == x {
			return ctLogTab[i]
		}
	}
	// math.Log has an assembly fast path where Log1p has none; the
	// precision Log1p keeps for tiny x does not matter to a baseline of
	// magnitudes.
	if x < 0 {
		return -math.Log(1 - x)
	}
	return math.Log(1 + x)
}

// ctLogTab[i] is math.Log(1+i): ctLog of the whole numbers below 4096.
var ctLogTab = func() *[4096]float64 {
	var t [4096]float64
	for i := range t {
		t[i] = math.Log(1 + float64(i))
	}
	return &t
}()

func ctExp(y float64) float64 {
	if y < 0 {
		return -math.Expm1(-y)
	}
	return math.Expm1(y)
}

func ctClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ctShape hashes v with every word that holds a digit (ids, numbers,
// hex) or is a hex word of 8 or more letters masked, without allocating.
// A word is a run of letters (ctLetter), digits and '_'. One pass over a
// word classifies it (ctWordClass), and a word kept as it is enters the
// hash eight bytes at a time: one multiplication per eight bytes rather
// than per byte, for the hash runs on every value of a slot with many.
// Each step is a bijection of the hash so far, so values of one shape
// hash alike and different shapes differ but by chance.
func ctShape(v string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(v); {
		if ctWordClass[v[i]]&ctWordByte == 0 {
			h = (h ^ uint64(v[i])) * prime
			i++
			continue
		}
		j, any, all := i, uint8(0), uint8(ctWordHex)
		for j < len(v) {
			c := ctWordClass[v[j]]
			if c&ctWordByte == 0 {
				break
			}
			any |= c
			all &= c
			j++
		}
		if any&ctWordDigit != 0 || j-i >= 8 && all&ctWordHex != 0 {
			h = (h ^ '#') * prime
		} else {
			for k := i; k < j; k += 8 {
				h = (h ^ ctLE64(v[k:min(k+8, j)])) * prime
			}
		}
		i = j
	}
	return h
}

// ctLE64 packs the up to eight bytes of s into a number, first byte
// lowest. A word chunk never equals a single separator byte: one byte
// chunks are word bytes, and longer ones exceed 255.
func ctLE64(s string) uint64 {
	if len(s) == 8 {
		return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	}
	var w uint64
	for b := len(s) - 1; b >= 0; b-- {
		w = w<<8 | uint64(s[b])
	}
	return w
}

// Byte classes of ctShape: a word byte (ctAlnum or '_'), a digit, a hex
// digit or letter.
const (
	ctWordByte  = 1
	ctWordDigit = 2
	ctWordHex   = 4
)

var ctWordClass = func() (c [256]uint8) {
	for i := range c {
		b := byte(i)
		if ctAlnum(b) || b == '_' {
			c[i] |= ctWordByte
		}
		if ctDigit(b) {
			c[i] |= ctWordDigit
		}
		if ctDigit(b) || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' {
			c[i] |= ctWordHex
		}
	}
	return c
}()
