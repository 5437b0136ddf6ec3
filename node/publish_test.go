package node_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// Writers never wait for the network: with the publisher held (a network
// slower than the writes), every write is acknowledged, the batches beyond
// the publish queue are dropped and counted, and anti-entropy still brings
// every key to the other peer.
func TestSlowGossipNeverBlocksWriters(t *testing.T) {
	c := nodetest.NewCluster(t, 2)
	c.WarmUp()
	ctx := context.Background()
	writer := c.Node(0)
	release := writer.HoldPublishForTest()
	const puts = 400 // one commit each: more than the publish queue holds
	for i := range puts {
		if _, err := writer.Put(ctx, node.DefaultNamespace, fmt.Appendf(nil, "k%03d", i), []byte("v")); err != nil {
			t.Fatalf("put %d with gossip held: %v", i, err)
		}
	}
	if dropped := counterSum(t, writer, "grapevine_gossip_publish_dropped_total"); dropped == 0 {
		t.Errorf("%d commits with the publisher held dropped nothing: the queue is not bounded", puts)
	}
	release()
	for i := range puts {
		key := fmt.Sprintf("k%03d", i)
		testutil.Eventually(t, key+" on the other peer", func() bool {
			return hasValue(c.Node(1), node.DefaultNamespace, key, []byte("v"))
		})
	}
}
