package gs1

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every *Error, so callers can test any parse or
// validation failure with errors.Is(err, gs1.ErrInvalid).
var ErrInvalid = errors.New("invalid GS1 data")

// Error describes what is wrong with GS1 data and, where one is to blame,
// which Application Identifier.
type Error struct {
	// AI is the Application Identifier at fault, or "" when the fault is in
	// the structure of the data as a whole.
	AI string
	// Value is the offending value or fragment, if any.
	Value string
	// Reason says what is wrong, in words.
	Reason string
}

func (e *Error) Error() string {
	if e.AI == "" {
		return e.Reason
	}
	return fmt.Sprintf("AI (%s): %s", e.AI, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

func errorf(ai, value, format string, args ...any) *Error {
	return &Error{AI: ai, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// clip shortens v for quoting in a message, so a hostile megabyte of input
// does not become a megabyte of error.
func clip(v string) string {
	const max = 40
	if len(v) <= max {
		return v
	}
	return v[:max] + "..."
}
