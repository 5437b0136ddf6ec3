package testutil

import (
	"testing"
	"time"
)

// EventuallyTimeout is how long Eventually waits by default: generous,
// because CI machines are shared and run tests under the race detector.
const EventuallyTimeout = 30 * time.Second

// Eventually polls cond every 10 ms until it holds, and fails the test if it
// still does not after EventuallyTimeout. what names the awaited condition
// in the failure message. It is the only polling helper tests use; there is
// no bare sleep to "let things settle".
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	EventuallyWithin(tb, EventuallyTimeout, what, cond)
}

// EventuallyWithin is Eventually with its own deadline.
func EventuallyWithin(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
