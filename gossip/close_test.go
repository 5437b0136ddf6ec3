package gossip

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/internal/wire"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"go.uber.org/goleak"
)

// goroutineStacks returns the stack of every goroutine.
func goroutineStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// anyStack reports whether a goroutine's stack contains every one of frames.
func anyStack(frames ...string) bool {
	for _, st := range goroutineStacks() {
		all := true
		for _, f := range frames {
			all = all && strings.Contains(st, f)
		}
		if all {
			return true
		}
	}
	return false
}

// Close owns the rounds it serves: a round a peer started, blocked in the
// responder's Applier, holds Close until it has returned; no callback runs
// after Close; and no goroutine of the syncer outlives it.
func TestCloseWaitsForServedRound(t *testing.T) {
	// Registered first, so it runs after every other cleanup.
	t.Cleanup(func() { goleak.VerifyNone(t, testutil.LeakOptions()...) })

	mn, err := mocknet.FullMeshConnected(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mn.Close() })
	ha, hb := mn.Hosts()[0], mn.Hosts()[1]

	dbA := openStore(t)
	for i := range 10 {
		put(t, dbA, "default", fmt.Sprint("k", i), "v", 1000)
	}
	a, err := NewSyncer(ha, dbA, applyTo(dbA), testSyncConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })

	var closeReturned, lateCallback, ctxAlive atomic.Bool
	var rounds atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // should the test fail while the Applier blocks
	blocking := func(ctx context.Context, _ libp2ppeer.ID, _ string, _ []wire.Delta) (int, error) {
		if closeReturned.Load() {
			lateCallback.Store(true)
		}
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release // ignores ctx: Close must wait anyway
		if ctx.Err() == nil {
			ctxAlive.Store(true)
		}
		return 0, ctx.Err()
	}
	cfg := testSyncConfig()
	cfg.OnRound = func(RoundStats) {
		if closeReturned.Load() {
			lateCallback.Store(true)
		}
		rounds.Add(1)
	}
	b, err := NewSyncer(hb, openStore(t), blocking, cfg)
	if err != nil {
		t.Fatal(err)
	}

	initiated := make(chan error, 1)
	go func() {
		_, err := a.SyncWith(context.Background(), hb.ID())
		initiated <- err
	}()
	select {
	case <-entered:
	case err := <-initiated:
		t.Fatalf("round ended before reaching b's Applier: %v", err)
	}

	closed := make(chan struct{})
	go func() {
		_ = b.Close()
		closeReturned.Store(true)
		close(closed)
	}()
	// Wait until Close is blocked on the served round; it must not return
	// while the round is still inside the Applier.
	testutil.Eventually(t, "Close waiting for the served round", func() bool {
		select {
		case <-closed:
			t.Fatal("Close returned while a served round was still in the Applier")
		default:
		}
		return anyStack("gossip.(*Syncer).Close(", "sync.(*WaitGroup).Wait(")
	})
	if rounds.Load() != 0 {
		t.Fatal("the served round reported its end while still in the Applier")
	}
	unblock()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the served round was released")
	}
	if rounds.Load() != 1 {
		t.Errorf("OnRound ran %d times before Close returned, want 1 (the served round)", rounds.Load())
	}
	if ctxAlive.Load() {
		t.Error("the served round's context was not cancelled by Close")
	}
	// serve's last deferred call releases Close's Wait: its frame may still
	// be on the stack for a moment, but nothing of the round runs any more.
	testutil.Eventually(t, "the served round's goroutine to return", func() bool {
		return !anyStack("gossip.(*Syncer).serve(")
	})
	if err := <-initiated; err == nil {
		t.Error("the initiator's round succeeded although the responder closed mid-round")
	}

	// A closed syncer serves nothing and calls nothing back.
	str, err := ha.NewStream(context.Background(), hb.ID(), SyncProtocol(testNetwork))
	if err == nil {
		_, _ = str.Write(frame(wire.FrameHello, nil))
		_ = str.Reset()
	}
	if _, err := b.SyncWith(context.Background(), ha.ID()); err != ErrClosed {
		t.Errorf("SyncWith after Close: err = %v, want ErrClosed", err)
	}
	if lateCallback.Load() {
		t.Error("a callback ran after Close returned")
	}
}
