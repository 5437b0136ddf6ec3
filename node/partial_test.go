package node_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// partialCluster is four nodes: 0 and 1 hold "a", 2 holds "b", 3 holds
// neither; all hold the default namespace.
func partialCluster(t *testing.T) *nodetest.Cluster {
	patterns := [][]string{{"default", "a"}, {"default", "a"}, {"default", "b"}, {"default"}}
	return nodetest.NewCluster(t, 4, nodetest.Configure(func(i int, cfg *node.Config) { cfg.Namespaces = patterns[i] }))
}

// TestPartialReplication: a namespace reaches its holders and never the
// storage of a peer that does not replicate it, whether it comes by
// gossip, by the namespaces announcement or by an anti-entropy round;
// such states are counted as ignored.
func TestPartialReplication(t *testing.T) {
	c := partialCluster(t)
	ctx := context.Background()
	for i := range 5 {
		if _, err := c.Node(0).Put(ctx, "a", fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "a's keys on its other holder", func() bool { return hasValue(c.Node(1), "a", "k4", []byte("v")) })
	for _, i := range []int{2, 3} {
		if _, err := c.Node(i).SyncWith(ctx, c.Node(0).Peer().ID()); err != nil {
			t.Fatalf("node %d sync with a holder: %v", i, err)
		}
		if slices.Contains(c.Node(i).NamespacesForTest(), "a") {
			t.Fatalf("node %d stores namespace a, which it does not replicate", i)
		}
	}
	testutil.Eventually(t, "states of a ignored by a non-holder", func() bool {
		return counterSum(t, c.Node(2), "grapevine_ignored_states_total")+counterSum(t, c.Node(3), "grapevine_ignored_states_total") > 0
	})
	if st := c.Node(3).Status(); slices.Contains(st.Holds, "a") || !slices.Contains(st.Holds, "default") {
		t.Fatalf("node 3 holds %v, want default and not a", st.Holds)
	}
}

// TestForwarding: a peer that does not replicate a namespace answers
// reads and writes for it by forwarding them to a holder, says which
// holder served, fails over to another holder when that one stops, and
// reports ErrNoHolder for a namespace nobody holds.
func TestForwarding(t *testing.T) {
	c := partialCluster(t)
	ctx := context.Background()
	holders := map[string]int{c.Node(0).Peer().ID().String(): 0, c.Node(1).Peer().ID().String(): 1}
	// The holders' provider records appear within a discovery interval.
	var served string
	testutil.Eventually(t, "a forwarded put", func() bool {
		fctx, by := c.Node(3).TrackServedBy(ctx)
		_, err := c.Node(3).Put(fctx, "a", []byte("fw"), []byte("1"))
		served = by()
		return err == nil
	})
	if _, ok := holders[served]; !ok {
		t.Fatalf("put served by %s, not a holder of a", served)
	}
	for i := range 2 {
		testutil.Eventually(t, fmt.Sprintf("the forwarded put on holder %d", i), func() bool { return hasValue(c.Node(i), "a", "fw", []byte("1")) })
	}
	v, err := c.Node(3).Get(ctx, "a", []byte("fw"))
	if _, ok := holders[v.ServedBy]; err != nil || string(v.Data) != "1" || !ok {
		t.Fatalf("forwarded get: %+v, %v", v, err)
	}
	if n, err := c.Node(3).Incr(ctx, "a", []byte("n"), 5); err != nil || n != 5 {
		t.Fatalf("forwarded incr: %d, %v", n, err)
	}
	if slices.Contains(c.Node(3).NamespacesForTest(), "a") {
		t.Fatal("the forwarding peer stored namespace a")
	}
	if st := c.Node(3).Status(); !slices.Contains(st.Forwards, "a") {
		t.Fatalf("status forwards %v, want a", st.Forwards)
	}
	if _, err := c.Node(3).Get(ctx, "nobody", []byte("k")); !errors.Is(err, node.ErrNoHolder) {
		t.Fatalf("get in a namespace nobody holds: %v, want ErrNoHolder", err)
	}

	// Failover: stop the holder that served; the next request goes to the other.
	testutil.Eventually(t, "both holders have the counter", func() bool {
		n0, _ := c.Node(0).Counter(ctx, "a", []byte("n"))
		n1, _ := c.Node(1).Counter(ctx, "a", []byte("n"))
		return n0 == 5 && n1 == 5
	})
	gone := holders[v.ServedBy]
	c.Stop(gone)
	fctx, by := c.Node(3).TrackServedBy(ctx)
	n, err := c.Node(3).Counter(fctx, "a", []byte("n"))
	if err != nil || n != 5 {
		t.Fatalf("forwarded counter after holder %d stopped: %d, %v", gone, n, err)
	}
	if i, ok := holders[by()]; !ok || i == gone {
		t.Fatalf("served by %s after holder %d stopped", by(), gone)
	}
}
