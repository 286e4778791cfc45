package telemetry

import "strconv"

// Fingerprint identifies a label set. It is computed exactly as Prometheus'
// model.LabelSet.Fingerprint (FNV-1a 64 over sorted names and values, each
// followed by the 0xff separator), so alert fingerprints match what
// Alertmanager and amtool show for the same labels.
type Fingerprint uint64

const (
	fnvOffset64   = 14695981039346656037
	fnvPrime64    = 1099511628211
	separatorByte = 255
)

// String renders the fingerprint as 16 lowercase hex digits.
func (f Fingerprint) String() string {
	var buf [16]byte
	s := strconv.AppendUint(buf[:0], uint64(f), 16)
	if len(s) == 16 {
		return string(s)
	}
	out := [16]byte{'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'}
	copy(out[16-len(s):], s)
	return string(out[:])
}

// ParseFingerprint parses the 16-hex-digit form produced by String.
func ParseFingerprint(s string) (Fingerprint, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	return Fingerprint(v), err
}

// Fingerprint returns the label set's fingerprint. It does not allocate. The
// receiver must be sorted (see Labels.Valid); an empty set hashes to the FNV
// offset basis, as in Prometheus.
func (ls Labels) Fingerprint() Fingerprint {
	h := uint64(fnvOffset64)
	for i := range ls {
		h = fnvAddString(h, ls[i].Name)
		h = (h ^ separatorByte) * fnvPrime64
		h = fnvAddString(h, ls[i].Value)
		h = (h ^ separatorByte) * fnvPrime64
	}
	return Fingerprint(h)
}

func fnvAddString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}
