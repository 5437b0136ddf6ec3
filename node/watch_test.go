package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

func TestWatchSeesLocalAndReplicatedChanges(t *testing.T) {
	c := nodetest.NewCluster(t, 2)
	c.WarmUp()
	nodes := c.Nodes()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := nodes[1].Watch(ctx, "", []byte("app/"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].Put(ctx, "", []byte("other/x"), []byte("ignored")); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].Put(ctx, "", []byte("app/a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	expect := func(key, value string, deleted bool) {
		t.Helper()
		select {
		case ev := <-events:
			if string(ev.Key) != key || string(ev.Value.Data) != value || ev.Deleted != deleted {
				t.Fatalf("event %+v, want %s=%q deleted=%v", ev, key, value, deleted)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no event for %s", key)
		}
	}
	expect("app/a", "1", false) // replicated from node 0
	if err := nodes[1].Delete(ctx, "", []byte("app/a")); err != nil {
		t.Fatal(err)
	}
	expect("app/a", "", true) // local
	cancel()
	for range events { // the channel closes once the watch is cancelled
	}
}

// TestSlowWatcherIsDropped: a watcher that stops reading is dropped with a
// Dropped event (not a silent close) instead of stalling writes, and
// WatchSince from its index delivers the rest, ending on the final value.
func TestSlowWatcherIsDropped(t *testing.T) {
	nodes := nodetest.NewCluster(t, 1).Nodes()
	ctx := context.Background()
	events, err := nodes[0].Watch(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	total := node.WatchBuffer + 10
	for i := range total {
		if _, err := nodes[0].Incr(ctx, "", []byte("c"), 1); err != nil {
			t.Fatalf("increment %d (writes must not stall): %v", i, err)
		}
	}
	var got []node.Event
	for ev := range events {
		got = append(got, ev)
	}
	last := got[len(got)-1]
	if len(got) != node.WatchBuffer+1 || !last.Dropped || last.Index != got[len(got)-2].Index {
		t.Fatalf("got %d events, last %+v; want %d changes and a Dropped event at the last index", len(got), last, node.WatchBuffer)
	}
	resumed, err := nodes[0].WatchSince(ctx, "", nil, last.Index)
	if err != nil {
		t.Fatal(err)
	}
	ev := <-resumed
	if string(ev.Key) != "c" || ev.Counter != int64(total) || ev.Index <= last.Index {
		t.Fatalf("resumed with %+v, want the counter at %d", ev, total)
	}
}
