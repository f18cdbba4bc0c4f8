package pipeline

import "fmt"

// Exit codes of DESIGN.md (1, any other failure, is the default).
const (
	ExitUsage   = 2
	ExitRefused = 3
)

// UsageError is a usage or configuration error (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// ExitCode implements kong.ExitCoder.
func (e *UsageError) ExitCode() int { return ExitUsage }

// RefusedError is a refusal by a safety guard (exit 3).
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// ExitCode implements kong.ExitCoder.
func (e *RefusedError) ExitCode() int { return ExitRefused }

// OrderError reports a stream whose keys are not in strictly increasing byte order.
type OrderError struct {
	Stream string
	Row    int64
	Prev   string
	Key    string
}

func (e *OrderError) Error() string {
	return fmt.Sprintf("%s: row %d: key %q does not sort after %q (input must be in byte order)", e.Stream, e.Row, e.Key, e.Prev)
}
