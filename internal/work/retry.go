package work

import (
	"context"
	"errors"
	"time"
)

// RetryableError is a failure that another attempt may not repeat
// (a timeout, a 5xx, a body cut short).
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Retry calls fn up to attempts times while it fails with a *RetryableError,
// waiting first, then twice as long each time. onRetry, when not nil, hears
// each retried failure and the wait before the next attempt. It returns fn's
// last error: nil, one that is not retryable, or the last retryable one.
func Retry(ctx context.Context, attempts int, first time.Duration, onRetry func(err error, wait time.Duration), fn func() error) error {
	var err error
	for a := 0; a < max(attempts, 1); a++ {
		if a > 0 {
			wait := first << (a - 1)
			if onRetry != nil {
				onRetry(err, wait)
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err = fn()
		var re *RetryableError
		if err == nil || !errors.As(err, &re) {
			return err
		}
	}
	return err
}
