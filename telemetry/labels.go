package telemetry

import (
	"sort"
	"strings"
)

// Label is one name/value pair.
type Label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Labels is a set of labels sorted by name with unique names. The zero value
// is an empty set.
type Labels []Label

// LabelsFromMap builds a sorted Labels value from a map. Empty values are
// dropped, as Prometheus and Alertmanager treat them as absent.
func LabelsFromMap(m map[string]string) Labels {
	ls := make(Labels, 0, len(m))
	for k, v := range m {
		if v == "" {
			continue
		}
		ls = append(ls, Label{Name: k, Value: v})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	return ls
}

// LabelsFromStrings builds Labels from name, value pairs. It panics on an odd
// number of arguments, which is a programming error, never a data error.
func LabelsFromStrings(nv ...string) Labels {
	if len(nv)%2 != 0 {
		panic("telemetry: LabelsFromStrings needs name/value pairs")
	}
	m := make(map[string]string, len(nv)/2)
	for i := 0; i < len(nv); i += 2 {
		m[nv[i]] = nv[i+1]
	}
	return LabelsFromMap(m)
}

// Get returns the value of the named label, or "" when absent.
func (ls Labels) Get(name string) string {
	// Label sets are small; a linear scan beats binary search below ~16 entries
	// and keeps this allocation-free either way.
	for i := range ls {
		if ls[i].Name == name {
			return ls[i].Value
		}
	}
	return ""
}

// Has reports whether the named label is present.
func (ls Labels) Has(name string) bool {
	for i := range ls {
		if ls[i].Name == name {
			return true
		}
	}
	return false
}

// Map returns the labels as a new map.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// With returns a copy of ls with the named label set to value (or removed when
// value is empty). The receiver is not modified.
func (ls Labels) With(name, value string) Labels {
	out := make(Labels, 0, len(ls)+1)
	done := false
	for _, l := range ls {
		if l.Name == name {
			done = true
			if value != "" {
				out = append(out, Label{Name: name, Value: value})
			}
			continue
		}
		if !done && l.Name > name {
			done = true
			if value != "" {
				out = append(out, Label{Name: name, Value: value})
			}
		}
		out = append(out, l)
	}
	if !done && value != "" {
		out = append(out, Label{Name: name, Value: value})
	}
	return out
}

// Equal reports whether two label sets are identical.
func (ls Labels) Equal(o Labels) bool {
	if len(ls) != len(o) {
		return false
	}
	for i := range ls {
		if ls[i] != o[i] {
			return false
		}
	}
	return true
}

// Valid reports whether ls is sorted by name with unique, non-empty names.
func (ls Labels) Valid() bool {
	for i := range ls {
		if ls[i].Name == "" {
			return false
		}
		if i > 0 && ls[i-1].Name >= ls[i].Name {
			return false
		}
	}
	return true
}

// String renders the labels in Prometheus notation: {a="1", b="2"}.
func (ls Labels) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(escapeLabelValue(l.Value))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func escapeLabelValue(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(v)
}

// MarshalJSON renders labels as a JSON object, the form every wire protocol we
// speak uses.
func (ls Labels) MarshalJSON() ([]byte, error) {
	return marshalLabelsJSON(ls), nil
}

// UnmarshalJSON accepts a JSON object of string values.
func (ls *Labels) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := jsonUnmarshal(b, &m); err != nil {
		return err
	}
	*ls = LabelsFromMap(m)
	return nil
}
