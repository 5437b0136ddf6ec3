package nodetest

import (
	"hash/fnv"
	"time"

	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// Options and methods for clusters of many nodes: link latency, discovery
// from one bootstrap peer, and a heal that leaves reconnecting to the nodes.

// Latency gives every link between two nodes a fixed one-way latency
// between lo and hi, drawn for each pair from its indexes (the same on
// every run, and again after Partition and Heal). Default none.
func Latency(lo, hi time.Duration) Option {
	return func(o *options) { o.latency = [2]time.Duration{lo, hi} }
}

// BootstrapFrom gives every node but node i node i's address as its only
// bootstrap peer (node.Config.Peer.Bootstrap), before Configure. With
// Unconnected, the nodes then meet only through discovery.
func BootstrapFrom(i int) Option { return func(o *options) { o.bootstrap = i } }

// latencyOf returns the latency of the link between nodes i and j.
func (c *Cluster) latencyOf(i, j int) time.Duration {
	lo, hi := c.latency[0], c.latency[1]
	if hi <= lo {
		return lo
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte{byte(min(i, j)), byte(min(i, j) >> 8), byte(max(i, j)), byte(max(i, j) >> 8)})
	return lo + time.Duration(h.Sum64()%uint64(hi-lo+1))
}

// setLatency applies Latency to every link between nodes i and j.
func (c *Cluster) setLatency(i, j int) {
	if c.latency == [2]time.Duration{} {
		return
	}
	opts := mocknet.LinkOptions{Latency: c.latencyOf(i, j)}
	for _, l := range c.mn.LinksBetweenPeers(c.host(i).ID(), c.host(j).ID()) {
		l.SetOptions(opts)
	}
}

// Relink ends any partition as a repaired network does: it links every
// pair of running nodes again and connects none, so the nodes reconnect
// by themselves (known peers, bootstrap, discovery) or as the test
// connects them.
func (c *Cluster) Relink() {
	c.tb.Helper()
	c.sideA = nil
	c.cut.Store(nil)
	for i := range c.nodes {
		for j := i + 1; j < len(c.nodes); j++ {
			if c.nodes[i] == nil || c.nodes[j] == nil {
				continue
			}
			if len(c.mn.LinksBetweenPeers(c.host(i).ID(), c.host(j).ID())) == 0 {
				if _, err := c.mn.LinkPeers(c.host(i).ID(), c.host(j).ID()); err != nil {
					c.tb.Fatal(err)
				}
				c.setLatency(i, j)
			}
		}
	}
}
