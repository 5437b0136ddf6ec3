package node_test

import (
	"context"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// TestNetworksNeverExchangeData runs alpha (nodes 0, 1) and beta (nodes 2,
// 3), every node connected to every other: data written on one network
// reaches its other node and never the other network, no node lists a node
// of the other network as a peer, a round with one fails, and the refusals
// show in the metrics.
func TestNetworksNeverExchangeData(t *testing.T) {
	networkOf := func(i int) string { return []string{"alpha", "alpha", "beta", "beta"}[i] }
	c := nodetest.NewCluster(t, 4, nodetest.Unconnected(), nodetest.Configure(func(i int, cfg *node.Config) {
		cfg.Network = networkOf(i)
	}))
	for i := range 4 {
		for j := i + 1; j < 4; j++ {
			c.Connect(i, j)
		}
	}
	ctx := context.Background()
	for i, nd := range c.Nodes() {
		if _, err := nd.Put(ctx, "", []byte("written-on-"+networkOf(i)+string(rune('0'+i))), []byte(networkOf(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Each network converges within itself.
	for i := range c.Nodes() {
		mate := c.Node(i ^ 1)
		key := []byte("written-on-" + networkOf(i) + string(rune('0'+i)))
		testutil.Eventually(t, "node "+string(rune('0'+i))+"'s write on its mate", func() bool {
			v, err := mate.Get(ctx, "", key)
			return err == nil && string(v.Data) == networkOf(i)
		})
	}
	testutil.Eventually(t, "each node lists exactly its mate", func() bool {
		for i, nd := range c.Nodes() {
			ps := nd.Peers()
			if len(ps) != 1 || ps[0].ID != c.Node(i^1).Peer().ID() || nd.Status().Peers != 1 {
				return false
			}
		}
		return true
	})
	// A round with a node of the other network is refused, and a full
	// round within each network brings nothing of the other.
	for i, nd := range c.Nodes() {
		other := c.Node((i + 2) % 4).Peer().ID()
		if _, err := nd.SyncWith(ctx, other); err == nil {
			t.Errorf("node %d (%s) synced with a node of the other network", i, networkOf(i))
		}
		if _, err := nd.SyncWith(ctx, c.Node(i^1).Peer().ID()); err != nil {
			t.Errorf("node %d: round with its mate: %v", i, err)
		}
	}
	for i, nd := range c.Nodes() {
		page, err := nd.List(ctx, "", node.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 2 {
			t.Errorf("node %d holds %d keys, want its network's 2", i, len(page.Entries))
		}
		for _, k := range page.Entries {
			if !strings.Contains(string(k.Key), networkOf(i)) {
				t.Errorf("node %d on %s holds %q, written on the other network", i, networkOf(i), k.Key)
			}
		}
	}
	// Every connection across the networks was refused by someone, and
	// the metric says so.
	var refused float64
	for _, nd := range c.Nodes() {
		mfs, err := nd.Metrics().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "grapevine_peer_refusals_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "reason" && l.GetValue() == "network" {
						refused += m.GetCounter().GetValue()
					}
				}
			}
		}
	}
	if refused < 4 {
		t.Errorf("grapevine_peer_refusals_total{reason=\"network\"} sums to %v over the nodes, want at least 4 (one per cross connection)", refused)
	}
}
