package logparse

import "strings"

// Recognising the lines of stack traces, for the Joiner. Each runtime prints
// its own shape:
//
//	Java    ERROR ... Request failed          (the head: any log line)
//	        java.lang.IllegalStateException: boom
//	        	at com.example.Foo.bar(Foo.java:42)
//	        	... 12 more
//	        Caused by: java.io.IOException: reset
//	Python  Traceback (most recent call last):
//	          File "app.py", line 3, in <module>
//	            main()
//	        ValueError: invalid literal       (the end, unless a chained
//	                                            traceback follows)
//	Go      panic: runtime error: index out of range [5] with length 3
//
//	        goroutine 1 [running]:
//	        main.main()
//	        	/app/main.go:8 +0x1d
//	        exit status 2
//
// Indented lines continue whatever came before (the common case of
// multi-line messages), which is also what keeps Java frames and Python
// source lines attached.

type stackKind uint8

const (
	stackNone stackKind = iota
	stackJava
	stackPython    // inside a traceback's frames
	stackPythonEnd // after the exception line: only chaining may follow
	stackGo
)

const pyTraceback = "Traceback (most recent call last):"

// stackHead tells whether a line starts a trace, and which. Whether it
// also continues the entry before it is for continues to say.
func stackHead(text string) stackKind {
	switch {
	case strings.HasPrefix(text, pyTraceback):
		return stackPython
	case strings.HasPrefix(text, "panic: "), strings.HasPrefix(text, "fatal error: "),
		strings.HasPrefix(text, "SIGQUIT: "), strings.HasPrefix(text, "SIGABRT: "),
		isGoroutineHeader(text):
		return stackGo
	case strings.HasPrefix(text, "Exception in thread \""), isJavaException(text):
		return stackJava
	}
	return stackNone
}

func isGoroutineHeader(text string) bool {
	return strings.HasPrefix(text, "goroutine ") && len(text) > 10 && isDigit(text[10]) && strings.HasSuffix(text, ":")
}

// continues tells whether text continues an entry whose trace is in state
// k, and the state after it.
func continues(text string, k stackKind) (stackKind, bool) {
	trimmed := trimLeft(text)
	indented := len(trimmed) < len(text) && trimmed != ""
	switch k {
	case stackGo:
		if text == "" || indented || isGoroutineHeader(text) ||
			strings.HasPrefix(text, "created by ") || strings.HasPrefix(text, "[signal ") ||
			strings.HasPrefix(text, "exit status ") || strings.HasPrefix(text, "...additional frames elided...") ||
			isGoFrame(text) {
			return stackGo, true
		}
		return k, false
	case stackPython:
		if indented {
			return stackPython, true
		}
		if isPythonException(text) {
			return stackPythonEnd, true
		}
		return k, false
	case stackPythonEnd:
		switch {
		case trimmed == "",
			strings.HasPrefix(text, "During handling of the above exception"),
			strings.HasPrefix(text, "The above exception was the direct cause"):
			return stackPythonEnd, true
		case strings.HasPrefix(text, pyTraceback):
			return stackPython, true
		}
		return k, false
	}
	if strings.HasPrefix(text, pyTraceback) {
		return stackPython, true
	}
	if indented {
		if strings.HasPrefix(trimmed, "at ") || strings.HasPrefix(trimmed, "Caused by: ") ||
			strings.HasPrefix(trimmed, "Suppressed: ") || isMoreFrames(trimmed) {
			return stackJava, true
		}
		return k, true
	}
	if strings.HasPrefix(text, "Caused by: ") || isMoreFrames(text) || isJavaException(text) {
		return stackJava, true
	}
	return k, false
}

// isMoreFrames matches Java's "... 12 more".
func isMoreFrames(s string) bool {
	return strings.HasPrefix(s, "... ") && strings.HasSuffix(s, " more")
}

// isGoFrame matches a function line of a goroutine trace:
// "main.main()", "net/http.(*conn).serve(0xc000180000, {0x7a1d68, 0xc00012c000})".
func isGoFrame(s string) bool {
	p := strings.IndexByte(s, '(')
	return p > 0 && strings.HasSuffix(s, ")") && !strings.ContainsAny(s[:p], " \t") &&
		(strings.IndexByte(s[:p], '.') > 0 || strings.HasPrefix(s, "panic("))
}

// exceptionName returns the leading "a.b.C" of "a.b.C: msg" (or of a line
// that is only a name), or "" when the line does not start like that.
func exceptionName(s string) (name, msg string) {
	end := strings.Index(s, ": ")
	if end < 0 {
		if strings.HasSuffix(s, ":") {
			end = len(s) - 1
		} else {
			end = len(s)
		}
	}
	name = s[:end]
	if name == "" || !(isAlpha(name[0]) || name[0] == '_') {
		return "", ""
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlpha(c) && !isDigit(c) && c != '.' && c != '_' && c != '$' {
			return "", ""
		}
	}
	if end+2 <= len(s) {
		msg = s[end+2:]
	}
	return name, msg
}

// isJavaException matches "java.lang.IllegalStateException: boom" and
// "com.example.NotFound$Error": a qualified name naming a Throwable.
func isJavaException(s string) bool {
	name, _ := exceptionName(s)
	if strings.IndexByte(name, '.') <= 0 {
		return false
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	return strings.Contains(last, "Exception") || strings.Contains(last, "Error") || strings.HasSuffix(last, "Throwable")
}

// isPythonException matches the line that ends a traceback: after the
// frames, any unindented "Name: msg" or bare "Name" is the exception.
func isPythonException(s string) bool {
	name, _ := exceptionName(s)
	return name != ""
}

// exceptionOf extracts the type and message of an exception line, for the
// exception.type / exception.message fields (OpenTelemetry's names).
func exceptionOf(text string, k stackKind) (typ, msg string, ok bool) {
	switch k {
	case stackGo:
		for _, p := range [...]string{"panic", "fatal error"} {
			if strings.HasPrefix(text, p+": ") {
				return p, strings.TrimSuffix(text[len(p)+2:], " [recovered]"), true
			}
		}
		return "", "", false
	case stackJava:
		if rest, ok := strings.CutPrefix(text, "Exception in thread \""); ok {
			if q := strings.Index(rest, "\" "); q >= 0 {
				text = rest[q+2:]
			}
		}
		if !isJavaException(text) {
			return "", "", false
		}
	case stackPythonEnd:
	default:
		return "", "", false
	}
	typ, msg = exceptionName(text)
	return typ, msg, typ != ""
}
