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

func TestSlowWatcherIsDropped(t *testing.T) {
	nodes := nodetest.NewCluster(t, 1).Nodes()
	ctx := context.Background()
	events, err := nodes[0].Watch(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range node.WatchBuffer + 1 {
		if _, err := nodes[0].Incr(ctx, "", []byte("c"), int64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for range events {
		n++
	}
	if n != node.WatchBuffer {
		t.Fatalf("got %d events before the channel closed, want %d", n, node.WatchBuffer)
	}
}
