package openai

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigilops/vigil/copilot"
)

func TestFitMessages(t *testing.T) {
	sys := copilot.Message{Role: copilot.RoleSystem, Content: "You are an SRE assistant."}
	logs := strings.Repeat("ERROR connection refused ünïcode\n", 300) // ~10 KB
	tests := []struct {
		name      string
		msgs      []copilot.Message
		budget    int
		wantRoles []string
		check     func(t *testing.T, out []copilot.Message)
	}{
		{"fits untouched", []copilot.Message{sys, {Role: "user", Content: "hi"}}, 100, []string{"system", "user"}, nil},
		{"truncates longest user middle", []copilot.Message{
			sys, {Role: "user", Content: "short question"}, {Role: "assistant", Content: "ok"},
			{Role: "user", Content: "HEAD " + logs + " TAIL"},
		}, 500, []string{"system", "user", "assistant", "user"}, func(t *testing.T, out []copilot.Message) {
			c := out[3].Content
			if !strings.HasPrefix(c, "HEAD ") || !strings.HasSuffix(c, " TAIL") || !strings.Contains(c, "bytes truncated") {
				t.Errorf("truncated content lost its ends or marker: %.80q … %.80q", c, c[len(c)-80:])
			}
			if !utf8.ValidString(c) {
				t.Errorf("cut inside a rune")
			}
			if out[1].Content != "short question" {
				t.Errorf("short message changed")
			}
		}},
		{"drops oldest with its tool replies", []copilot.Message{
			sys,
			{Role: "assistant", Content: strings.Repeat("a", 2000), ToolCalls: []copilot.ToolCall{{ID: "1", Name: "f", Arguments: []byte(`{}`)}}},
			{Role: "tool", ToolCallID: "1", Content: strings.Repeat("t", 2000)},
			{Role: "user", Content: "what now?"},
		}, 100, []string{"system", "user"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]copilot.Message(nil), tt.msgs...)
			out := FitMessages(tt.msgs, tt.budget)
			if n := EstimateTokens(out); n > tt.budget {
				t.Errorf("estimate %d over budget %d", n, tt.budget)
			}
			var roles []string
			for _, m := range out {
				roles = append(roles, m.Role)
			}
			if strings.Join(roles, ",") != strings.Join(tt.wantRoles, ",") {
				t.Errorf("roles %v, want %v", roles, tt.wantRoles)
			}
			for i := range orig {
				if tt.msgs[i].Content != orig[i].Content {
					t.Errorf("input message %d modified", i)
				}
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
}
