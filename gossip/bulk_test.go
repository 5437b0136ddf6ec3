package gossip

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
)

// TestBulkReceivedOnce: while a round holds a namespace's receiving lock,
// other rounds that would send states of it to this peer are deferred (the
// peer sends none, either role), states still flow the other way, and the
// deferred peers are triggered when the lock is released.
func TestBulkReceivedOnce(t *testing.T) {
	ps := makeSyncPeers(t, 3)
	a, b, c := ps[0], ps[1], ps[2]
	for i := range 300 {
		put(t, a.db, "default", fmt.Sprint("k", i), "v", 1000)
		put(t, b.db, "default", fmt.Sprint("k", i), "v", 1000)
	}
	put(t, c.db, "default", "only-c", "v", 1000)
	ctx := context.Background()

	lock, ok := c.s.tryReceive("default", c.s.bulkGeneration("default")) // a round with a streams "default" to c
	if !ok {
		t.Fatal("receiving lock not free")
	}
	for _, initiator := range []bool{true, false} {
		var st RoundStats
		var err error
		if initiator {
			st, err = c.s.SyncWith(ctx, b.h.ID())
		} else {
			st, err = b.s.SyncWith(ctx, c.h.ID())
		}
		if err != nil {
			t.Fatal(err)
		}
		ns := st.Namespaces[0]
		if !ns.Deferred || st.Clean() {
			t.Fatalf("round while c receives (c initiator %v): %+v, want deferred", initiator, ns)
		}
		if got := c.db.Summarize("default", 0, ^uint64(0)).Count; got != 1 {
			t.Fatalf("c received states while another round streams to it: holds %d", got)
		}
	}
	if _, err := b.db.Get("default", crdt.TypeRegister, []byte("only-c")); err != nil {
		t.Fatalf("c's own state did not reach b in the deferred rounds: %v", err)
	}
	lock.release(true)
	c.s.mu.Lock()
	_, triggered := c.s.mu.triggered[b.h.ID()]
	c.s.mu.Unlock()
	if !triggered {
		t.Fatal("the deferred peer was not triggered when the lock was released")
	}
	if st, err := c.s.SyncWith(ctx, b.h.ID()); err != nil || st.Namespaces[0].Deferred || st.Namespaces[0].StatesReceived != 300 {
		t.Fatalf("round after the release: %+v, %v", st, err)
	}
	if dbDigest(b.db) != dbDigest(c.db) {
		t.Fatal("b and c differ after the round that followed the release")
	}
	p := c.s.Progress()["default"]
	if p.KeysReceived != 300 {
		t.Fatalf("progress = %+v, want 300 keys received", p)
	}
}

// TestBulkNotReceivedTwice: a round whose reconciliation ran while another
// round delivered the namespace (the other round took the receiving lock
// and released it before this round's plan) receives nothing: its outcome
// lists the states just delivered. It is deferred, the peer is triggered,
// and the next round finds nothing to repair. Either role.
func TestBulkNotReceivedTwice(t *testing.T) {
	for _, initiator := range []bool{true, false} {
		t.Run(fmt.Sprintf("c initiator %v", initiator), func(t *testing.T) {
			ps := makeSyncPeers(t, 3)
			a, b, c := ps[0], ps[1], ps[2]
			const keys = 300
			for i := range keys {
				put(t, a.db, "default", fmt.Sprint("k", i), "v", 1000)
				put(t, b.db, "default", fmt.Sprint("k", i), "v", 1000)
			}
			ctx := context.Background()
			var fired atomic.Bool
			var first RoundStats
			c.s.setBeforePlanForTest(func(string) {
				if !fired.CompareAndSwap(false, true) {
					return
				}
				// b's round has reconciled against c's empty index: a
				// delivers the whole namespace before b's plan.
				var err error
				if first, err = c.s.SyncWith(ctx, a.h.ID()); err != nil {
					t.Error(err)
				}
			})
			var st RoundStats
			var err error
			if initiator {
				st, err = c.s.SyncWith(ctx, b.h.ID())
			} else {
				st, err = b.s.SyncWith(ctx, c.h.ID())
			}
			if err != nil {
				t.Fatal(err)
			}
			if !fired.Load() {
				t.Fatal("the hook did not run")
			}
			got := first.Namespaces[0].StatesReceived
			ns := st.Namespaces[0]
			if initiator {
				got += ns.StatesReceived
			} else {
				got += ns.StatesSent
			}
			if got != keys {
				t.Fatalf("c received %d states of a store of %d (a's round %+v, b's round %+v)", got, keys, first.Namespaces[0], ns)
			}
			if !ns.Deferred || st.Clean() {
				t.Fatalf("b's stale round: %+v, want deferred", ns)
			}
			c.s.mu.Lock()
			_, triggered := c.s.mu.triggered[b.h.ID()]
			c.s.mu.Unlock()
			if !triggered {
				t.Fatal("b was not triggered after its stale round")
			}
			if st, err := c.s.SyncWith(ctx, b.h.ID()); err != nil || !st.Clean() {
				t.Fatalf("round after the stale one: %+v, %v", st, err)
			}
			if dbDigest(a.db) != dbDigest(c.db) {
				t.Fatal("c differs from a")
			}
		})
	}
}
