package node_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// Tests of the rejoin rule (package gossip's doc): a grace of one hour on
// a shared wall clock that the test moves forward, so hours pass at once.

const rejoinGrace = time.Hour

// wall is a wall clock shared by a cluster's nodes, ahead of real time by
// what the test advanced it.
type wall struct{ ahead atomic.Int64 }

func (w *wall) now() time.Time          { return time.Now().Add(time.Duration(w.ahead.Load())) }
func (w *wall) advance(d time.Duration) { w.ahead.Add(int64(d)) }
func (w *wall) configure(cfg *node.Config) {
	cfg.Wall = w.now
	cfg.Storage.TombstoneGrace = rejoinGrace
	cfg.Storage.PurgeInterval = 0 // purged by hand (PurgeForTest)
	cfg.AntiEntropy.PullFirstWait = time.Second
}

func rejoinCluster(t *testing.T, n int, w *wall, opts ...nodetest.Option) *nodetest.Cluster {
	t.Helper()
	opts = append(opts, nodetest.Configure(func(_ int, cfg *node.Config) { w.configure(cfg) }))
	return nodetest.NewCluster(t, n, opts...)
}

// waitSynced waits until every given node is up to date in the default
// namespace with a synced mark at or after since.
func waitSynced(t *testing.T, since time.Time, nodes ...*node.Node) {
	t.Helper()
	testutil.Eventually(t, fmt.Sprintf("%d nodes synced since %s", len(nodes), since), func() bool {
		for _, n := range nodes {
			if mark, pullFirst := n.SyncedForTest(node.DefaultNamespace); pullFirst || mark.Before(since) {
				return false
			}
		}
		return true
	})
}

func present(n *node.Node, key string) bool {
	_, err := n.Get(context.Background(), "", []byte(key))
	return err == nil
}

func absent(t *testing.T, n *node.Node, key string) bool {
	_, err := n.Get(context.Background(), "", []byte(key))
	if err != nil && !errors.Is(err, node.ErrNotFound) {
		t.Fatal(err)
	}
	return err != nil
}

func metric(t *testing.T, n *node.Node, name string) float64 {
	t.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// B misses a delete, the grace passes and the others purge the tombstone;
// B comes back: the key stays deleted everywhere and B drops its copy.
func TestRejoinAfterGraceDoesNotResurrect(t *testing.T) {
	w := &wall{}
	c := rejoinCluster(t, 3, w, nodetest.OnDisk())
	ctx := context.Background()
	for _, k := range []string{"doomed", "kept"} {
		if _, err := c.Node(0).Put(ctx, "", []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitConverged()
	waitSynced(t, w.now(), c.Nodes()...)

	c.Stop(1)
	if err := c.Node(0).Delete(ctx, "", []byte("doomed")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the delete on node 2", func() bool { return absent(t, c.Node(2), "doomed") })
	// Nodes 0 and 2 stay up, in steps shorter than the grace.
	for range 3 {
		w.advance(rejoinGrace / 2)
		waitSynced(t, w.now(), c.Node(0), c.Node(2))
	}
	for _, i := range []int{0, 2} {
		if n, err := c.Node(i).PurgeForTest(); err != nil || n != 1 {
			t.Fatalf("node %d purged %d tombstones (%v), want 1", i, n, err)
		}
	}

	// Node 1 comes back cut off, so the copy it kept can be seen before it
	// meets anyone; then the partition heals.
	c.Partition(1)
	b := c.Restart(1)
	if !present(b, "doomed") {
		t.Fatal("node 1 lost its copy before rejoining: the test shows nothing")
	}
	c.Heal()
	testutil.Eventually(t, "node 1 up to date and converged", func() bool {
		_, pullFirst := b.SyncedForTest(node.DefaultNamespace)
		return !pullFirst && absent(t, b, "doomed") && c.Converged()
	})
	for i, n := range c.Nodes() {
		if !absent(t, n, "doomed") {
			t.Errorf("node %d: the purged delete came back", i)
		}
		if !present(n, "kept") {
			t.Errorf("node %d lost a live key", i)
		}
	}
	// The round's metrics are recorded when it ends, after its effects are
	// visible: wait for them.
	testutil.Eventually(t, "grapevine_sync_stale_dropped_total = 1 on node 1", func() bool {
		return metric(t, b, "grapevine_sync_stale_dropped_total") == 1
	})
}

// A new peer still receives a live key written a month ago.
func TestNewPeerReceivesOldLiveKey(t *testing.T) {
	w := &wall{}
	c := rejoinCluster(t, 3, w, nodetest.Unconnected())
	c.Connect(0, 1)
	if err := c.Node(0).PutAtForTest(node.DefaultNamespace, []byte("ancient"), []byte("v"), w.now().Add(-30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Node(0).Put(context.Background(), "", []byte("recent"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the month-old key on node 1", func() bool { return present(c.Node(1), "ancient") })
	c.Connect(2, 0)
	c.Connect(2, 1)
	testutil.Eventually(t, "the month-old key on the new peer", func() bool {
		return present(c.Node(2), "ancient") && c.Converged()
	})
}

// The whole network stops for longer than the grace and restarts: no peer
// is up to date, and still they converge (the most recently synced peer
// takes over as the reference).
func TestWholeNetworkRestartAfterGraceConverges(t *testing.T) {
	w := &wall{}
	c := rejoinCluster(t, 3, w, nodetest.OnDisk())
	ctx := context.Background()
	if _, err := c.Node(0).Put(ctx, "", []byte("base"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	waitSynced(t, w.now(), c.Nodes()...)
	c.Stop(2)
	if _, err := c.Node(0).Put(ctx, "", []byte("late"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "late on node 1", func() bool { return present(c.Node(1), "late") })
	w.advance(rejoinGrace / 4) // nodes 0 and 1 save newer marks than node 2's
	waitSynced(t, w.now(), c.Node(0), c.Node(1))
	c.Stop(0)
	c.Stop(1)

	w.advance(2 * rejoinGrace)
	for i := range 3 {
		c.Restart(i)
	}
	testutil.Eventually(t, "the restarted network converged, node 2 with the write it missed", func() bool {
		return present(c.Node(2), "late") && c.Converged()
	})
	waitSynced(t, w.now().Add(-rejoinGrace/2), c.Nodes()...)
	if _, err := c.Node(2).Put(ctx, "", []byte("after"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "a new write everywhere", func() bool {
		return present(c.Node(0), "after") && present(c.Node(1), "after")
	})
}

// A peer away for less than the grace exchanges both ways at once, its
// old states included.
func TestShortAbsenceExchangesBothWays(t *testing.T) {
	w := &wall{}
	c := rejoinCluster(t, 2, w)
	ctx := context.Background()
	if _, err := c.Node(0).Put(ctx, "", []byte("base"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	waitSynced(t, w.now(), c.Nodes()...)
	c.Partition(1)
	w.advance(rejoinGrace * 3 / 4)
	b := c.Node(1)
	// An old state only B holds (say, restored from a backup), and a new one.
	if err := b.PutAtForTest(node.DefaultNamespace, []byte("old-on-b"), []byte("v"), w.now().Add(-2*rejoinGrace)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "", []byte("during"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Node(0).Put(ctx, "", []byte("during-a"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	c.Heal()
	testutil.Eventually(t, "both ways", func() bool {
		return present(c.Node(0), "old-on-b") && present(c.Node(0), "during") && present(b, "during-a") && c.Converged()
	})
	if _, pullFirst := b.SyncedForTest(node.DefaultNamespace); pullFirst {
		t.Error("a peer away for less than the grace is pulling first")
	}
}
