package rules

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxExprLen bounds an expression; PromQL in rule files is a few lines.
const maxExprLen = 16 << 10

// checkExpr catches the PromQL typos that are cheap to catch without a
// full parser: unbalanced brackets and unterminated strings, which would
// otherwise surface only when Prometheus loads the file. promtool check
// rules remains the authority; the integration test runs it.
func checkExpr(expr string) error {
	if len(expr) > maxExprLen {
		return fmt.Errorf("longer than %d bytes", maxExprLen)
	}
	if !utf8.ValidString(expr) {
		return errors.New("not valid UTF-8")
	}
	var stack []byte
	var open []int
	closing := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch c {
		case '"', '\'', '`':
			end := stringEnd(expr, i)
			if end < 0 {
				return fmt.Errorf("unterminated string starting at offset %d", i)
			}
			i = end
		case '#':
			// A comment runs to the end of the line.
			if nl := strings.IndexByte(expr[i:], '\n'); nl >= 0 {
				i += nl
			} else {
				i = len(expr)
			}
		case '(', '[', '{':
			stack = append(stack, c)
			open = append(open, i)
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != closing[c] {
				return fmt.Errorf("unbalanced %q at offset %d", c, i)
			}
			stack, open = stack[:len(stack)-1], open[:len(open)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("%q at offset %d is never closed", stack[len(stack)-1], open[len(open)-1])
	}
	return nil
}

// stringEnd returns the offset of the quote closing the string literal
// opened at i, or -1.
func stringEnd(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case '\n':
			if q != '`' {
				return -1
			}
		case q:
			return j
		}
	}
	return -1
}
