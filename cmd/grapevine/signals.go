package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// stopOnSignal returns a context cancelled at the first SIGINT or SIGTERM,
// so the daemon shuts down cleanly; a second one exits the process at once
// (status 1: every acknowledged write is already durable, so nothing is
// lost but the clean shutdown). stop releases the signals.
func stopOnSignal(parent context.Context, log *slog.Logger, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			log.Info("stopping; send the signal again to exit at once", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "grapevine: second %s: exiting at once, without a clean shutdown\n", s)
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
