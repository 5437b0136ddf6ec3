package loadgen

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/grapevine-kv/grapevine/node"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// Cluster is n peers in this process, each a full node on real libp2p
// over 127.0.0.1, all connected to each other.
type Cluster struct {
	// Nodes are the peers, in the order they were started.
	Nodes []*node.Node
}

// StartCluster starts n peers with the configuration of NodeConfig, each
// in dir/peer-<i> (with its data on disk, unless inMemory), connects every
// pair and waits until gossip flows from each to all others (a probe key
// per peer, "warmup/<i>"), up to warmUp long. configure, if not nil,
// adjusts each peer's configuration first. Close it when done, also after
// an error.
func StartCluster(ctx context.Context, n int, dir string, inMemory bool, warmUp time.Duration, configure func(i int, cfg *node.Config)) (*Cluster, error) {
	c := &Cluster{}
	for i := range n {
		cfg := NodeConfig(filepath.Join(dir, fmt.Sprintf("peer-%d", i)), inMemory)
		if configure != nil {
			configure(i, &cfg)
		}
		nd, err := StartNode(ctx, cfg)
		if err != nil {
			return c, err
		}
		c.Nodes = append(c.Nodes, nd)
		for _, other := range c.Nodes[:i] {
			h := other.Peer().Host()
			info := libp2ppeer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
			if err := nd.Peer().Host().Connect(ctx, info); err != nil {
				return c, fmt.Errorf("loadgen: connect peer %d to %s: %w", i, h.ID(), err)
			}
		}
	}
	return c, c.warmUp(ctx, warmUp)
}

// warmUp writes a probe key on each peer until every other peer holds it:
// GossipSub drops what is published before its router has taken a new
// peer in, which would count as replication lag.
func (c *Cluster) warmUp(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i, src := range c.Nodes {
		key := fmt.Appendf(nil, "warmup/%d", i)
		for {
			if _, err := src.Put(ctx, "", key, []byte("x")); err != nil {
				return fmt.Errorf("loadgen: warm-up write on peer %d: %w", i, err)
			}
			if c.allHold(ctx, key) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("loadgen: gossip from peer %d did not reach every peer within %s: are the peers connected?", i, timeout)
			case <-tick.C:
			}
		}
	}
	return nil
}

// allHold reports whether every peer holds key.
func (c *Cluster) allHold(ctx context.Context, key []byte) bool {
	for _, nd := range c.Nodes {
		if _, err := nd.Get(ctx, "", key); err != nil {
			return false
		}
	}
	return true
}

// Targets returns a NodeTarget for each peer, in the default namespace.
func (c *Cluster) Targets() []Target {
	ts := make([]Target, len(c.Nodes))
	for i, nd := range c.Nodes {
		ts[i] = NodeTarget{Node: nd}
	}
	return ts
}

// Close closes every peer started.
func (c *Cluster) Close() error {
	var errs []error
	for _, nd := range c.Nodes {
		errs = append(errs, nd.Close())
	}
	return errors.Join(errs...)
}
