package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// signalCause is why the command's context was cancelled: a signal.
type signalCause struct{ sig syscall.Signal }

func (s signalCause) Error() string { return "stopped by " + s.sig.String() }

// signalContext is cancelled by the first SIGINT or SIGTERM, with that
// signal as its cause; stop releases the handler.
func signalContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			cancel(signalCause{s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}

// signalExit is the exit code after a signal stopped the command: 128 plus
// its number (130 after SIGINT, 143 after SIGTERM), as shells and systemd
// expect; 1 when the cancellation had no signal behind it.
func signalExit(ctx context.Context) (syscall.Signal, int) {
	var sc signalCause
	if errors.As(context.Cause(ctx), &sc) {
		return sc.sig, 128 + int(sc.sig)
	}
	return 0, 1
}
