package logtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var persistLines = []string{
	"session closed for user cyrus",
	"session closed for user news",
	"session closed for user test",
	"session closed for user mail", // merges T2, T3 into T1
	"Received block blk_1 of size 67108864 from /10.0.0.1",
	"served block to 10.0.0.1:50010",
	"served block to /10.0.0.2", // refines
	`10.0.0.1 "GET /v2/servers HTTP/1.1" status: 200`,
	"stored 5.2 KB in memory",
	"stored 384 B in memory",
	"ask 10.0.0.1:50010 to delete blk_1",
	"ask 10.0.0.2:50010 to delete blk_2 blk_3", // a run
}

func TestMarshalRoundTrip(t *testing.T) {
	m := mustNew(t, DefaultOptions())
	for _, l := range persistLines {
		m.Add(l)
	}
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := mustNew(t, DefaultOptions())
	if err := r.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Templates(), m.Templates(); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored templates differ:\n got %+v\nwant %+v", got, want)
	}
	// IDs and aliases survive: the merged T2 still resolves to T1.
	if tpl, ok := r.Lookup("T2"); !ok || tpl.ID != "T1" {
		t.Errorf("Lookup(T2) after restore = %v %v", tpl.ID, ok)
	}
	// Learning continues the same way on both, with fresh IDs after the
	// restored ones.
	for _, l := range []string{"session closed for user eve", "brand new line", "stored 1 GB in memory", "ask 10.0.0.9:1 to delete blk_1 blk_2 blk_3 blk_4"} {
		a, b := m.Add(l), r.Add(l)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%q: original %+v, restored %+v", l, a, b)
		}
	}
	again, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := m.MarshalBinary()
	if string(again) != string(orig) {
		t.Errorf("states diverged after the same lines")
	}
}

// TestRestoreContinuesLikeUninterrupted splits a whole system's lines:
// the second half, fed to a restored Miner, must give the same templates as
// one Miner fed everything. It needs the Loghub-2k datasets.
func TestRestoreContinuesLikeUninterrupted(t *testing.T) {
	lines := mixedLines(t)
	whole := mustNew(t, DefaultOptions())
	half := mustNew(t, DefaultOptions())
	for i, l := range lines {
		whole.Add(l)
		if i < len(lines)/2 {
			half.Add(l)
		}
	}
	data, err := half.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := mustNew(t, DefaultOptions())
	if err := r.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines[len(lines)/2:] {
		r.Add(l)
	}
	got, want := templateTexts(r), templateTexts(whole)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("restored miner has %d templates, uninterrupted %d", len(got), len(want))
	}
}

func templateTexts(m *Miner) map[string]string {
	out := map[string]string{}
	for _, t := range m.Templates() {
		out[t.ID] = fmt.Sprintf("%s x%d", t.Template, t.Count)
	}
	return out
}

func TestRestoreEvictsBeyondMaxClusters(t *testing.T) {
	m := mustNew(t, DefaultOptions())
	for _, l := range []string{"alpha one", "bravo two three", "charlie four five six"} {
		m.Add(l)
	}
	m.Add("alpha one")
	data, _ := m.MarshalBinary()
	o := DefaultOptions()
	o.MaxClusters = 2
	r := mustNew(t, o)
	if err := r.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup("T2"); ok {
		t.Error("least recently used T2 survived")
	}
	if r.Len() != 2 {
		t.Errorf("len = %d, want 2", r.Len())
	}
}

func TestUnmarshalErrors(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{
			"format": stateFormat, "version": stateVersion, "next_seq": 3,
			"clusters": []any{map[string]any{"id": "T1", "seq": 1, "count": 2,
				"slots": []any{map[string]any{"k": "c", "t": "hello"}, map[string]any{"k": "v"}}}},
		}
	}
	tests := []struct {
		name string
		edit func(map[string]any)
		raw  string
	}{
		{name: "not json", raw: "{"},
		{name: "other format", edit: func(s map[string]any) { s["format"] = "drain3" }},
		{name: "future version", edit: func(s map[string]any) { s["version"] = 99 }},
		{name: "empty id", edit: func(s map[string]any) { s["clusters"].([]any)[0].(map[string]any)["id"] = "" }},
		{name: "duplicate id", edit: func(s map[string]any) {
			c := s["clusters"].([]any)
			s["clusters"] = append(c, c[0])
		}},
		{name: "unknown slot kind", edit: func(s map[string]any) {
			s["clusters"].([]any)[0].(map[string]any)["slots"] = []any{map[string]any{"k": "x"}}
		}},
		{name: "constant holding a wildcard", edit: func(s map[string]any) {
			s["clusters"].([]any)[0].(map[string]any)["slots"] = []any{map[string]any{"k": "c", "t": "a<*>"}}
		}},
		{name: "shape without a wildcard", edit: func(s map[string]any) {
			s["clusters"].([]any)[0].(map[string]any)["slots"] = []any{map[string]any{"k": "s", "t": "abc"}}
		}},
		{name: "white space in a slot", edit: func(s map[string]any) {
			s["clusters"].([]any)[0].(map[string]any)["slots"] = []any{map[string]any{"k": "c", "t": "a b"}}
		}},
		{name: "seen of the wrong length", edit: func(s map[string]any) {
			s["clusters"].([]any)[0].(map[string]any)["seen"] = []any{[]any{"x"}}
		}},
		{name: "self alias", edit: func(s map[string]any) { s["aliases"] = map[string]any{"T1": "T1"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.raw)
			if tt.edit != nil {
				st := good()
				tt.edit(st)
				data, _ = json.Marshal(st)
			}
			m := mustNew(t, DefaultOptions())
			m.Add("existing line 1")
			err := m.UnmarshalBinary(data)
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("err = %v, want ErrBadState", err)
			}
			// The Miner is left unchanged.
			if ts := m.Templates(); len(ts) != 1 || ts[0].Template != "existing line <*>" {
				t.Errorf("miner changed: %+v", ts)
			}
		})
	}
	// The good state itself loads.
	data, _ := json.Marshal(good())
	m := mustNew(t, DefaultOptions())
	if err := m.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if got := m.Add("hello 42"); got.TemplateID != "T1" || got.Template != "hello <*>" {
		t.Errorf("Add after load = %+v", got)
	}
	if got := m.Add("fresh template here"); got.TemplateID != "T3" {
		t.Errorf("new ID = %s, want T3 (next_seq)", got.TemplateID)
	}
}

// FuzzUnmarshalBinary feeds arbitrary saved states: no panic, and a state
// that loads keeps the package's invariants.
func FuzzUnmarshalBinary(f *testing.F) {
	m, _ := New(DefaultOptions())
	for _, l := range persistLines {
		m.Add(l)
	}
	data, _ := m.MarshalBinary()
	f.Add(data)
	f.Add([]byte(`{"format":"vigil-logtemplate","version":1,"clusters":[{"id":"a","slots":[{"k":"p","t":"x=","s":")"}]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _ := New(DefaultOptions())
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		for _, tpl := range m.Templates() {
			if n := strings.Count(tpl.Template, wildcard); n != len(tpl.Slots) {
				t.Fatalf("template %q: %d <*>, %d slots", tpl.Template, n, len(tpl.Slots))
			}
		}
		for _, l := range []string{"x=1)", "hello world", "", "a b c"} {
			got := m.Add(l)
			if n := strings.Count(got.Template, wildcard); n != len(got.Params) {
				t.Fatalf("%q: template %q: %d <*>, %d params", l, got.Template, n, len(got.Params))
			}
		}
		if _, err := m.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}
