package node_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// next returns the next event, failing the test if none comes.
func next(t *testing.T, events <-chan node.Event) node.Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the watch ended")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event")
	}
	return node.Event{}
}

func describe(ev node.Event) string {
	switch {
	case ev.Expired:
		return fmt.Sprintf("%d:expire %s (version %v, expiry %v, data %q)", ev.Index, ev.Key, ev.Value.Version, ev.Value.Expires, ev.Value.Data)
	case ev.Deleted:
		return fmt.Sprintf("%d:del %s", ev.Index, ev.Key)
	case ev.Type.String() == "counter":
		return fmt.Sprintf("%d:%s=%d", ev.Index, ev.Key, ev.Counter)
	}
	return fmt.Sprintf("%d:%s=%s", ev.Index, ev.Key, ev.Value.Data)
}

// TestWatchSinceReplaysThenLive: WatchSince sends each key changed after
// the index once, with its current state, then live changes; a change
// made before the index is not replayed.
func TestWatchSinceReplaysThenLive(t *testing.T) {
	n := nodetest.NewCluster(t, 1).Node(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.Put(ctx, "", []byte("app/old"), []byte("before")))
	since := n.LastIndex()
	must(n.Put(ctx, "", []byte("app/a"), []byte("1")))
	must(n.Put(ctx, "", []byte("app/b"), []byte("1")))
	must(n.Put(ctx, "", []byte("other"), []byte("x")))
	must(n.Put(ctx, "", []byte("app/a"), []byte("2")))
	must(nil, n.Delete(ctx, "", []byte("app/b")))
	must(n.Incr(ctx, "", []byte("app/c"), 3))
	events, err := n.WatchSince(ctx, "", []byte("app/"), since)
	if err != nil {
		t.Fatal(err)
	}
	must(n.Put(ctx, "", []byte("app/live"), []byte("yes")))
	var got []string
	for range 4 {
		got = append(got, describe(next(t, events)))
	}
	if want := "[5:app/a=2 6:del app/b 7:app/c=3 8:app/live=yes]"; fmt.Sprint(got) != want {
		t.Fatalf("events %v, want %s", got, want)
	}
	if _, err := n.WatchSince(ctx, "", nil, n.LastIndex()+1); !errors.Is(err, node.ErrCompacted) {
		t.Fatalf("WatchSince ahead of the log: %v, want ErrCompacted", err)
	}
}

// TestWatchSinceCompacted: once the purge loop trimmed the log past an
// index, WatchSince from it fails with ErrCompacted.
func TestWatchSinceCompacted(t *testing.T) {
	c := nodetest.NewCluster(t, 1, nodetest.Configure(func(_ int, cfg *node.Config) {
		cfg.Storage.ChangeLogEntries = 2
		cfg.Storage.TombstoneGrace = time.Hour
		cfg.Storage.PurgeInterval = 20 * time.Millisecond
	}))
	n := c.Node(0)
	ctx := context.Background()
	for i := range 5 {
		if _, err := n.Put(ctx, "", []byte(fmt.Sprint(i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "the purge loop trims the change log", func() bool {
		_, err := n.WatchSince(ctx, "", nil, 1)
		return errors.Is(err, node.ErrCompacted)
	})
	events, err := n.WatchSince(ctx, "", nil, n.LastIndex()-2)
	if err != nil {
		t.Fatalf("WatchSince within the retained log: %v", err)
	}
	if ev := next(t, events); string(ev.Key) != "3" {
		t.Fatalf("first replayed event %s, want key 3", describe(ev))
	}
}

// TestWatchSinceAfterRestart: a peer restarted on its data directory keeps
// its indexes, and a watch resumed from the last index seen there gets the
// changes it missed while the peer was down, replicated from another peer.
func TestWatchSinceAfterRestart(t *testing.T) {
	c := nodetest.NewCluster(t, 2, nodetest.OnDisk())
	ctx := context.Background()
	if _, err := c.Node(1).Put(ctx, "", []byte("k"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	since := c.Node(1).LastIndex()
	c.Stop(1)
	if _, err := c.Node(0).Put(ctx, "", []byte("k"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	n1 := c.Restart(1)
	if got := n1.LastIndex(); got < since {
		t.Fatalf("LastIndex after restart %d, before %d", got, since)
	}
	events, err := n1.WatchSince(ctx, "", []byte("k"), since)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev := next(t, events)
		if ev.Index <= since {
			t.Fatalf("event %s at or before the resume index %d", describe(ev), since)
		}
		if string(ev.Value.Data) == "2" {
			return
		}
	}
}

// startWithWall starts one node whose wall clock is wall.
func startWithWall(t *testing.T, wall *skewedWall) *node.Node {
	t.Helper()
	cfg := nodetest.Config(t)
	cfg.Wall = wall.now
	return nodetest.Start(t, cfg)
}

// TestWatchSinceReplaysExpiredValueAsExpire: a key whose value expired
// after it changed is replayed as an expire event (the version that
// expired, no data), as a reader sees it: absent, not a live value.
func TestWatchSinceReplaysExpiredValueAsExpire(t *testing.T) {
	wall := &skewedWall{}
	n := startWithWall(t, wall)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	since := n.LastIndex()
	v, err := n.PutWith(ctx, "", []byte("session/1"), []byte("alive"), node.WriteOptions{TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	putIndex := n.LastIndex()
	if _, err := n.Put(ctx, "", []byte("session/2"), []byte("kept")); err != nil {
		t.Fatal(err)
	}
	wall.skip(31 * time.Second)
	events, err := n.WatchSince(ctx, "", []byte("session/"), since)
	if err != nil {
		t.Fatal(err)
	}
	ev := next(t, events)
	if !ev.Expired || string(ev.Key) != "session/1" || ev.Value.Data != nil || ev.Index != putIndex {
		t.Fatalf("replayed %s, want the expiry of session/1 at index %d, without data", describe(ev), putIndex)
	}
	if ev.Value.Version != v || ev.Value.Expires.IsZero() {
		t.Fatalf("replayed %s, want the put's version %v and its expiry", describe(ev), v)
	}
	if ev := next(t, events); ev.Expired || string(ev.Value.Data) != "kept" {
		t.Fatalf("then %s, want session/2=kept", describe(ev))
	}
}

// TestWatchSinceForwardsLiveExpiry: a value that expires after WatchSince
// replayed it comes as an expire event, with an index from which a resumed
// watch misses nothing; later changes follow.
func TestWatchSinceForwardsLiveExpiry(t *testing.T) {
	wall := &skewedWall{}
	n := startWithWall(t, wall)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	since := n.LastIndex()
	if _, err := n.PutWith(ctx, "", []byte("session/1"), []byte("alive"), node.WriteOptions{TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	events, err := n.WatchSince(ctx, "", []byte("session/"), since)
	if err != nil {
		t.Fatal(err)
	}
	put := next(t, events)
	if put.Expired || string(put.Value.Data) != "alive" || put.Value.Expires.IsZero() {
		t.Fatalf("replayed %s (expiry %v), want the live value with its expiry", describe(put), put.Value.Expires)
	}
	wall.skip(31 * time.Second)
	ev := next(t, events)
	if !ev.Expired || string(ev.Key) != "session/1" || ev.Index != put.Index {
		t.Fatalf("after the expiry: %s, want the expiry of session/1 carrying index %d", describe(ev), put.Index)
	}
	if _, err := n.Put(ctx, "", []byte("session/2"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); string(ev.Value.Data) != "new" || ev.Index <= put.Index {
		t.Fatalf("then %s, want session/2=new after index %d", describe(ev), put.Index)
	}
}
