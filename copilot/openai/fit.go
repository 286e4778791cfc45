package openai

import (
	"fmt"
	"unicode/utf8"

	"github.com/vigilops/vigil/copilot"
)

// Token estimates use the common rule of thumb of four bytes per token, plus
// a few tokens of framing per message. It is deliberately simple: budgets
// guard against pasting a whole log, not against an off-by-ten.
const (
	bytesPerToken   = 4
	messageOverhead = 4 // tokens of role and framing per message
	// minKeep is how many bytes of a truncated content survive at least.
	minKeep = 256
)

// EstimateTokens estimates the prompt tokens of msgs.
func EstimateTokens(msgs []copilot.Message) int {
	n := 0
	for _, m := range msgs {
		n += messageTokens(m)
	}
	return n
}

func messageTokens(m copilot.Message) int {
	b := len(m.Content) + len(m.ToolCallID)
	for _, tc := range m.ToolCalls {
		b += len(tc.ID) + len(tc.Name) + len(tc.Arguments)
	}
	return messageOverhead + (b+bytesPerToken-1)/bytesPerToken
}

func toolTokens(tools []copilot.Tool) int {
	b := 0
	for _, t := range tools {
		b += len(t.Name) + len(t.Description) + len(t.Parameters)
	}
	return (b + bytesPerToken - 1) / bytesPerToken
}

// FitMessages returns msgs cut to fit budget tokens, as far as it can: it
// first truncates the middle of the longest user content (logs pasted by a
// user are where the bulk is, and their head and tail carry the most
// meaning), marking the cut; when that is not enough it drops the oldest
// messages after the system prompt, keeping the newest one. The result may
// still be over budget; callers check with EstimateTokens. msgs is not
// modified.
func FitMessages(msgs []copilot.Message, budget int) []copilot.Message {
	out := append([]copilot.Message(nil), msgs...)
	for {
		over := EstimateTokens(out) - budget
		if over <= 0 {
			return out
		}
		if truncateLongest(out, over*bytesPerToken) {
			continue
		}
		var ok bool
		if out, ok = dropOldest(out); !ok {
			return out
		}
	}
}

// truncateLongest cuts about cut bytes from the middle of the longest user
// content; it reports false when no user content can shrink.
func truncateLongest(msgs []copilot.Message, cut int) bool {
	best := -1
	for i, m := range msgs {
		if m.Role == copilot.RoleUser && len(m.Content) > minKeep+64 && (best < 0 || len(m.Content) > len(msgs[best].Content)) {
			best = i
		}
	}
	if best < 0 {
		return false
	}
	s := msgs[best].Content
	// The marker costs bytes too; cut a little more than asked.
	cut = min(cut+64, len(s)-minKeep)
	head := (len(s) - cut) / 2
	tail := len(s) - (len(s) - cut - head)
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	marker := fmt.Sprintf("\n[… %d bytes truncated …]\n", tail-head)
	if len(marker) >= tail-head {
		return false
	}
	msgs[best].Content = s[:head] + marker + s[tail:]
	return true
}

// dropOldest removes the oldest message after a leading system prompt,
// with any tool replies it leaves orphaned; the newest message stays.
func dropOldest(msgs []copilot.Message) ([]copilot.Message, bool) {
	start := 0
	if len(msgs) > 0 && msgs[0].Role == copilot.RoleSystem {
		start = 1
	}
	if len(msgs)-start <= 1 {
		return msgs, false
	}
	end := start + 1
	for end < len(msgs)-1 && msgs[end].Role == copilot.RoleTool {
		end++
	}
	return append(msgs[:start:start], msgs[end:]...), true
}
