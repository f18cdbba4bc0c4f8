package sinks

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// DefaultBreakerBudget is how many download attempts in a row may fail at a
// host that has not answered one yet before apply stops: with 8 downloads at
// once, the first attempts and their first retries.
const DefaultBreakerBudget = 16

// HostDownError stops apply: every attempt at a host failed the same way
// (no connection, no name, TLS, 401/403, 5xx), so the rest would too. The
// plan's rows stay as they were, to retry once the cause is fixed.
type HostDownError struct {
	Host     string
	Attempts int
	Err      error  // the last failure (not unwrapped: this is no failure of one file)
	Fix      string // the flag or config key that chose the host
}

func (e *HostDownError) Error() string {
	return fmt.Sprintf("every download from %s failed (%d attempts in a row, none succeeded; the last: %v): %s; "+
		"nothing was lost: the plan is kept and the same command retries it", e.Host, e.Attempts, e.Err, e.Fix)
}

// statusError is an HTTP answer that is not 200.
type statusError struct {
	src    string
	status string
	code   int
}

func (e *statusError) Error() string { return e.src + ": " + e.status }

// hostFailure tells whether err says the host, not the file, is at fault:
// no connection (DNS, refused, TLS, timeout), 401/403, 429 or a 5xx.
func hostFailure(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests || se.code == http.StatusUnauthorized || se.code == http.StatusForbidden
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

// breaker is a per-host circuit breaker with an error budget: a host that
// has never answered trips after its budget of failed attempts in a row; one that
// did answer (it works; a failure may be passing) after eight times as many.
type breaker struct {
	mu    sync.Mutex
	hosts map[string]*hostState
}

type hostState struct {
	answered bool
	failures int
	down     *HostDownError
}

func (b *breaker) state(host string) *hostState {
	if b.hosts == nil {
		b.hosts = map[string]*hostState{}
	}
	h := b.hosts[host]
	if h == nil {
		h = &hostState{}
		b.hosts[host] = h
	}
	return h
}

// check returns the host's HostDownError once it has tripped.
func (b *breaker) check(host string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := b.state(host).down; d != nil {
		return d
	}
	return nil
}

// record counts one attempt's outcome at host; fix names what chose it, and
// budget is the failures in a row allowed (DefaultBreakerBudget when 0).
func (b *breaker) record(host string, err error, fix string, budget int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.state(host)
	if err == nil || !hostFailure(err) {
		h.answered, h.failures = true, 0
		return
	}
	h.failures++
	if budget <= 0 {
		budget = DefaultBreakerBudget
	}
	if h.answered {
		budget *= 8
	}
	if h.failures >= budget && h.down == nil {
		h.down = &HostDownError{Host: host, Attempts: h.failures, Err: err, Fix: fix}
	}
}
