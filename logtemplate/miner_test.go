package logtemplate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		ok   bool
	}{
		{"defaults", func(*Options) {}, true},
		{"similarity zero", func(o *Options) { o.Similarity = 0 }, false},
		{"similarity above one", func(o *Options) { o.Similarity = 1.5 }, false},
		{"variants one", func(o *Options) { o.Variants = 1 }, false},
		{"no clusters", func(o *Options) { o.MaxClusters = 0 }, false},
		{"no tokens", func(o *Options) { o.MaxTokens = 0 }, false},
		{"negative examples", func(o *Options) { o.MaxExamples = -1 }, false},
		{"negative samples", func(o *Options) { o.MaxSamples = -1 }, false},
		{"negative cache", func(o *Options) { o.CacheSize = -1 }, false},
		{"no cache, nil logger", func(o *Options) { o.CacheSize = 0; o.Logger = nil }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.edit(&o)
			_, err := New(o)
			if (err == nil) != tt.ok {
				t.Fatalf("New: err = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("err = %v, not ErrInvalidOptions", err)
			}
		})
	}
}

// step is one Add and what it must return.
type step struct {
	line     string
	id       string // "" to skip the check
	template string
	params   []string
	isNew    bool
	changed  bool
}

func runSteps(t *testing.T, m *Miner, steps []step) {
	t.Helper()
	for i, st := range steps {
		got := m.Add(st.line)
		if st.id != "" && got.TemplateID != st.id {
			t.Errorf("step %d %q: ID %s, want %s", i, st.line, got.TemplateID, st.id)
		}
		if got.Template != st.template {
			t.Errorf("step %d %q: template %q, want %q", i, st.line, got.Template, st.template)
		}
		if !slices.Equal(got.Params, st.params) {
			t.Errorf("step %d %q: params %q, want %q", i, st.line, got.Params, st.params)
		}
		if got.New != st.isNew || got.Changed != st.changed {
			t.Errorf("step %d %q: new %v changed %v, want %v %v", i, st.line, got.New, got.Changed, st.isNew, st.changed)
		}
	}
}

func TestAddScenarios(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"masked parameters need no refinement", []step{
			{"Received block blk_1 of size 67108864 from /10.0.0.1", "T1", "Received block <*> of size <*> from <*>", []string{"blk_1", "67108864", "/10.0.0.1"}, true, false},
			{"Received block blk_2 of size 4 from /10.0.0.2", "T1", "Received block <*> of size <*> from <*>", []string{"blk_2", "4", "/10.0.0.2"}, false, false},
		}},
		{"parameters of different shapes generalise at once", []step{
			{"served block to 10.0.0.1:50010", "T1", "served block to <*>:<*>", []string{"10.0.0.1", "50010"}, true, false},
			{"served block to /10.0.0.2", "T1", "served block to <*>", []string{"/10.0.0.2"}, false, true},
			{"served block to 10.0.0.3:1", "T1", "served block to <*>", []string{"10.0.0.3:1"}, false, false},
		}},
		{"words that differ are different events", []step{
			{"VM Paused (Lifecycle Event)", "T1", "VM Paused (Lifecycle Event)", nil, true, false},
			{"VM Resumed (Lifecycle Event)", "T2", "VM Resumed (Lifecycle Event)", nil, true, false},
			{"VM Started (Lifecycle Event)", "T3", "VM Started (Lifecycle Event)", nil, true, false},
			{"VM Paused (Lifecycle Event)", "T1", "VM Paused (Lifecycle Event)", nil, false, false},
		}},
		{"a word position becomes a parameter after four values, older ID kept", []step{
			{"session closed for user cyrus", "T1", "session closed for user cyrus", nil, true, false},
			{"session closed for user news", "T2", "session closed for user news", nil, true, false},
			{"session closed for user test", "T3", "session closed for user test", nil, true, false},
			{"session closed for user mail", "T1", "session closed for user <*>", []string{"mail"}, false, true},
			{"session closed for user news", "T1", "session closed for user <*>", []string{"news"}, false, false},
			{"session closed for user bob", "T1", "session closed for user <*>", []string{"bob"}, false, false},
		}},
		{"a masked value and constants need evidence too", []step{
			{"check user 0 failed", "T1", "check user <*> failed", []string{"0"}, true, false},
			{"check user guest failed", "T2", "check user guest failed", nil, true, false},
		}},
		{"key=value keeps the key", []step{
			{"flush the cache user=guest now", "T1", "flush the cache user=guest now", nil, true, false},
			{"flush the cache user=bob now", "T2", "flush the cache user=bob now", nil, true, false},
			{"flush the cache user=eve now", "T3", "flush the cache user=eve now", nil, true, false},
			{"flush the cache user=joe now", "T1", "flush the cache user=<*> now", []string{"joe"}, false, true},
		}},
		{"brackets keep their punctuation", []step{
			{"connection from 10.0.0.1 (host.example) done", "T1", "connection from <*> (host.example) done", []string{"10.0.0.1"}, true, false},
			{"connection from 10.0.0.2 () done", "T2", "connection from <*> () done", []string{"10.0.0.2"}, true, false},
			{"connection from 10.0.0.3 (10.0.0.3) done", "T2", "connection from <*> (<*>) done", []string{"10.0.0.3", "10.0.0.3"}, false, true},
		}},
		{"a number and a varying unit are one parameter", []step{
			{"stored 5.2 KB in memory", "T1", "stored <*> KB in memory", []string{"5.2"}, true, false},
			{"stored 384 B in memory", "T1", "stored <*> in memory", []string{"384 B"}, false, true},
			{"stored 1.5 MB in memory", "T1", "stored <*> in memory", []string{"1.5 MB"}, false, false},
		}},
		{"the tail of a quoted request is one parameter", []step{
			{`10.0.0.1 "GET /v2/servers HTTP/1.1" status: 200`, "T1", `<*> "GET <*>" status: <*>`, []string{"10.0.0.1", "/v2/servers HTTP/1.1", "200"}, true, false},
		}},
		{"punctuation is structure", []step{
			{"Fan speeds ( 3552 3534 **** )", "T1", "Fan speeds ( <*> <*> **** )", []string{"3552", "3534"}, true, false},
			{"Fan speeds ( 3552 3534 3375 )", "T2", "Fan speeds ( <*> <*> <*> )", []string{"3552", "3534", "3375"}, true, false},
			{"Fan speeds ( 1 2 3 )", "T2", "Fan speeds ( <*> <*> <*> )", []string{"1", "2", "3"}, false, false},
			{"Fan speeds ( 4 5 6 )", "T2", "Fan speeds ( <*> <*> <*> )", []string{"4", "5", "6"}, false, false},
			{"Fan speeds ( 7 8 9 )", "T2", "Fan speeds ( <*> <*> <*> )", []string{"7", "8", "9"}, false, false},
			{"Fan speeds ( 1 1 **** )", "T1", "Fan speeds ( <*> <*> **** )", []string{"1", "1"}, false, false},
		}},
		{"short lines must agree on most words", []step{
			{"cupsd startup succeeded", "T1", "cupsd startup succeeded", nil, true, false},
			{"cupsd shutdown succeeded", "T2", "cupsd shutdown succeeded", nil, true, false},
			{"normal", "T3", "normal", nil, true, false},
			{"warning", "T4", "warning", nil, true, false},
		}},
		{"a trailing list of parameters of any length is one parameter", []step{
			{"ask 10.0.0.1:50010 to delete blk_1", "T1", "ask <*>:<*> to delete <*>", []string{"10.0.0.1", "50010", "blk_1"}, true, false},
			{"ask 10.0.0.2:50010 to delete blk_2 blk_3  blk_4", "T1", "ask <*>:<*> to delete <*>", []string{"10.0.0.2", "50010", "blk_2 blk_3  blk_4"}, false, true},
			{"ask 10.0.0.3:50010 to delete blk_5 blk_6", "T1", "ask <*>:<*> to delete <*>", []string{"10.0.0.3", "50010", "blk_5 blk_6"}, false, false},
			{"ask 10.0.0.3:50010 to delete blk_5 now", "T2", "ask <*>:<*> to delete <*> now", []string{"10.0.0.3", "50010", "blk_5"}, true, false},
		}},
		{"a list of a fixed length stays a list", []step{
			{"REPORT : 7007 5002 150089 240", "T1", "REPORT : <*> <*> <*> <*>", []string{"7007", "5002", "150089", "240"}, true, false},
			{"REPORT : 1 2 3 4", "T1", "REPORT : <*> <*> <*> <*>", []string{"1", "2", "3", "4"}, false, false},
		}},
		{"empty message", []step{
			{"", "T1", "", nil, true, false},
			{"   ", "T1", "", nil, false, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, mustNew(t, DefaultOptions()), tt.steps)
		})
	}
}

func TestMergeRecordsAlias(t *testing.T) {
	m := mustNew(t, DefaultOptions())
	ids := map[string]string{}
	for _, u := range []string{"cyrus", "news", "test", "mail"} {
		ids[u] = m.Add("session closed for user " + u).TemplateID
	}
	if ids["news"] == ids["cyrus"] {
		t.Fatalf("news and cyrus share %s before the merge", ids["news"])
	}
	for u, id := range ids {
		tpl, ok := m.Lookup(id)
		if !ok {
			t.Fatalf("Lookup(%s) of %s: not found", id, u)
		}
		if tpl.ID != "T1" || tpl.Template != "session closed for user <*>" {
			t.Errorf("Lookup(%s) = %s %q, want T1 and the merged template", id, tpl.ID, tpl.Template)
		}
	}
	tpl, _ := m.Lookup("T1")
	if !slices.Equal(tpl.Aliases, []string{"T2", "T3"}) {
		t.Errorf("aliases = %v, want [T2 T3]", tpl.Aliases)
	}
	if tpl.Count != 4 {
		t.Errorf("count = %d, want 4", tpl.Count)
	}
	if st := m.Stats(); st.Merged != 2 || st.Templates != 1 || st.Created != 3 {
		t.Errorf("stats = %+v", st)
	}
	if _, ok := m.Lookup("T99"); ok {
		t.Error("Lookup of an unknown ID succeeded")
	}
}

func TestEvictionIsLRU(t *testing.T) {
	o := DefaultOptions()
	o.MaxClusters = 2
	m := mustNew(t, o)
	a := m.Add("alpha event happened").TemplateID
	b := m.Add("bravo thing done").TemplateID
	m.Add("alpha event happened") // a is now the most recently used
	c := m.Add("charlie stuff failed").TemplateID
	if _, ok := m.Lookup(b); ok {
		t.Errorf("%s (least recently used) was not evicted", b)
	}
	for _, id := range []string{a, c} {
		if _, ok := m.Lookup(id); !ok {
			t.Errorf("%s was evicted", id)
		}
	}
	if st := m.Stats(); st.Evicted != 1 || st.Templates != 2 {
		t.Errorf("stats = %+v", st)
	}
	// A new ID is never reused.
	if d := m.Add("bravo thing done").TemplateID; d == b {
		t.Errorf("evicted ID %s reused", b)
	}
}

func TestMatchDoesNotLearn(t *testing.T) {
	m := mustNew(t, DefaultOptions())
	add := m.Add("user alice logged in from 10.0.0.1")
	if _, ok := m.Match("completely different words here"); ok {
		t.Error("Match found a template for an unrelated line")
	}
	got, ok := m.Match("user alice logged in from 10.0.0.2")
	if !ok || got.TemplateID != add.TemplateID || !slices.Equal(got.Params, []string{"10.0.0.2"}) {
		t.Errorf("Match = %+v, %v", got, ok)
	}
	// A different word is a different event until Variants values show up.
	if got, ok := m.Match("user bob logged in from 10.0.0.2"); ok {
		t.Errorf("Match of another word = %+v", got)
	}
	if st := m.Stats(); st.Lines != 1 || st.Templates != 1 {
		t.Errorf("Match learnt: %+v", st)
	}
}

func TestTemplatesSnapshot(t *testing.T) {
	o := DefaultOptions()
	o.MaxExamples, o.MaxSamples = 2, 2
	m := mustNew(t, o)
	for i := range 5 {
		m.Add(fmt.Sprintf("job %d took %d ms", i, i*10))
	}
	m.Add("other line")
	ts := m.Templates()
	if len(ts) != 2 {
		t.Fatalf("templates = %d, want 2", len(ts))
	}
	top := ts[0]
	if top.Template != "job <*> took <*> ms" || top.Count != 5 {
		t.Errorf("top = %q count %d", top.Template, top.Count)
	}
	if !slices.Equal(top.Examples, []string{"job 0 took 0 ms", "job 1 took 10 ms"}) {
		t.Errorf("examples = %q", top.Examples)
	}
	want := []SlotSummary{{Index: 0, Token: 1, Samples: []string{"0", "1"}}, {Index: 1, Token: 3, Samples: []string{"0", "10"}}}
	if fmt.Sprint(top.Slots) != fmt.Sprint(want) {
		t.Errorf("slots = %+v, want %+v", top.Slots, want)
	}
}

// TestParamsMatchTemplates checks, over every labelled line, that Add
// returns one parameter per "<*>" and that Match then returns the same
// template. It needs the Loghub-2k datasets.
func TestParamsMatchTemplates(t *testing.T) {
	m := mustNew(t, DefaultOptions())
	lines := mixedLines(t)
	for _, l := range lines {
		got := m.Add(l)
		if n := strings.Count(got.Template, wildcard); n != len(got.Params) {
			t.Fatalf("%q: template %q has %d <*>, %d params", l, got.Template, n, len(got.Params))
		}
		if mt, ok := m.Match(l); !ok || mt.TemplateID != got.TemplateID {
			t.Fatalf("%q: Match = %s %v, Add gave %s", l, mt.TemplateID, ok, got.TemplateID)
		}
	}
	// After all refinements, every line still fits some template.
	for _, l := range lines {
		got, ok := m.Match(l)
		if !ok {
			t.Fatalf("%q: no template", l)
		}
		if n := strings.Count(got.Template, wildcard); n != len(got.Params) {
			t.Fatalf("%q: template %q has %d <*>, %d params", l, got.Template, n, len(got.Params))
		}
	}
}

// TestConcurrentUse is meant for -race: Add, Match, Templates, Lookup and
// MarshalBinary from several goroutines.
func TestConcurrentUse(t *testing.T) {
	m := mustNew(t, DefaultOptions())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				r := m.Add(fmt.Sprintf("worker %d handled request %d for user%d in %d ms", g, i, i%7, i))
				m.Match(fmt.Sprintf("worker %d handled request %d", g, i))
				m.Lookup(r.TemplateID)
				if i%100 == 0 {
					m.Templates()
					if _, err := m.MarshalBinary(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if st := m.Stats(); st.Lines != 1200 {
		t.Errorf("lines = %d, want 1200", st.Lines)
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "h"}, // é is two bytes: do not cut it
		{"héllo", 3, "hé"},
		{"\xff\xfe\xfd", 2, "\xff\xfe"},
	}
	for _, tt := range tests {
		if got := clip(tt.in, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestBigLinesAreBounded(t *testing.T) {
	m := mustNew(t, DefaultOptions())
	long := strings.Repeat("x", 5000)
	m.Add("upload " + long + " done")
	tpl := m.Templates()[0]
	if tpl.Template != "upload <*> done" {
		t.Errorf("template = %q", tpl.Template)
	}
	if len(tpl.Examples[0]) > maxExampleBytes || len(tpl.Slots[0].Samples[0]) > maxValueBytes {
		t.Errorf("kept %d and %d bytes", len(tpl.Examples[0]), len(tpl.Slots[0].Samples[0]))
	}
}
