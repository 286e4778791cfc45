package rules

import (
	"fmt"
)

// Error is one problem of a spec, located as precisely as the input
// allows: file and line when parsed from YAML, and the path of the field
// (slos[0].objective).
type Error struct {
	File string
	Line int
	Path string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, e.Line)
	}
	switch {
	case loc != "" && e.Path != "":
		return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
	case loc != "":
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	case e.Path != "":
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return e.Msg
}

// Is makes errors.Is(err, ErrInvalidSpec) true.
func (e *Error) Is(target error) bool { return target == ErrInvalidSpec }
