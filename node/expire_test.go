package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
)

// TestExpiryToFullWatcherDropsIt: a watcher WatchBuffer events behind when
// a value it watches expires is dropped (its last event Dropped, with the
// index to resume from), as it is for a change, and writes go on; the
// expire event must not take the slot kept for the Dropped event, or the
// next write would wait for the reader.
func TestExpiryToFullWatcherDropsIt(t *testing.T) {
	wall := &skewedWall{}
	n := startWithWall(t, wall)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := n.Watch(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.PutWith(ctx, "", []byte("ttl"), []byte("v"), node.WriteOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for left := node.WatchBuffer - 1; left > 0; { // fill the buffer, unread
		ops := make([]node.TxnOp, min(left, node.MaxTxnOps))
		for i := range ops {
			ops[i] = node.TxnOp{Kind: node.TxnPut, Key: fmt.Appendf(nil, "k%d", left-i), Value: []byte("v")}
		}
		if _, err := n.Txn(ctx, "", ops); err != nil {
			t.Fatal(err)
		}
		left -= len(ops)
	}
	last := n.LastIndex()
	wall.skip(2 * time.Minute)
	testutil.Eventually(t, "the expiry reaches the full watcher", func() bool { return len(events) > node.WatchBuffer })

	wrote := make(chan error, 1)
	go func() {
		_, err := n.Put(ctx, "", []byte("after"), []byte("v"))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testutil.EventuallyTimeout):
		for range events { // unblock the node before failing
		}
		t.Fatal("a write waited for a watcher that an expiry had filled up")
	}
	var got []node.Event
	for ev := range events {
		got = append(got, ev)
	}
	if len(got) != node.WatchBuffer+1 {
		t.Fatalf("the watcher got %d events, want %d then the end", len(got), node.WatchBuffer+1)
	}
	if end := got[node.WatchBuffer]; !end.Dropped || end.Index != last {
		t.Fatalf("last event %s (dropped %v), want Dropped at index %d", describe(end), end.Dropped, last)
	}
}
