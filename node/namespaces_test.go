package node_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// TestNewNamespaceAtGossipSpeed: with anti-entropy off (ManualSync), the
// first write to a namespace no node holds reaches the others by gossip
// alone — it rides on the network's namespaces topic — and so do the
// writes that follow it, in that namespace and in a second new one. No
// round can run, so the wait proves nothing about speed and is generous:
// a machine under load delays gossip but does not lose it.
func TestNewNamespaceAtGossipSpeed(t *testing.T) {
	c := nodetest.NewCluster(t, 3, nodetest.Configure(func(_ int, cfg *node.Config) { cfg.ManualSync = true }))
	c.WarmUp()
	ctx := context.Background()
	for _, ns := range []string{"brand-new", "another.one"} {
		for i := range 5 {
			key := fmt.Sprintf("%s-%d", ns, i)
			if _, err := c.Node(0).Put(ctx, ns, []byte(key), []byte("v")); err != nil {
				t.Fatal(err)
			}
			for j, nd := range c.Nodes()[1:] {
				testutil.Eventually(t, fmt.Sprintf("%s/%s on node %d", ns, key, j+1), func() bool {
					return hasValue(nd, ns, key, []byte("v"))
				})
			}
		}
	}
	for i, nd := range c.Nodes() {
		if rounds := counterSum(t, nd, "grapevine_sync_rounds_total"); rounds != 0 {
			t.Errorf("node %d ran %v anti-entropy rounds, want none", i, rounds)
		}
	}
}
