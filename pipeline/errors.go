package pipeline

import "fmt"

// UsageError is a usage or configuration error: the user can fix it with
// another command, option or state directory. (The command line, not this
// package, decides what exit code an error gets.)
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// RefusedError is a refusal by a safety guard: nothing unsafe was done, and
// the message names the override.
type RefusedError struct {
	Msg    string
	Guards []string // the guards that refused, e.g. "max-delete" (for metrics)
}

func (e *RefusedError) Error() string { return e.Msg }

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
