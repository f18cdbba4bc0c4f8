package store_test

import (
	"runtime"
	"time"
)

// countGoroutines waits briefly for goroutines that are ending, then counts.
func countGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m >= n {
			return m
		} else {
			n = m
		}
	}
	return n
}
