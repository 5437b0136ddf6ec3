package nodetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/multiformats/go-multiaddr"
)

// Option adjusts a Cluster at NewCluster.
type Option func(*options)

type options struct {
	configure     func(i int, cfg *node.Config)
	writers       map[string][]int // namespace → indexes of its writers
	link, connect bool
	onDisk        bool
	latency       [2]time.Duration // lowest, highest link latency; zero: none
	bootstrap     int              // index of every node's bootstrap peer, -1: none
	grace         time.Duration    // the connection managers' grace period
}

// Configure makes NewCluster pass node i's configuration (the fast profile
// of Config, on the cluster's mocknet) through f before starting it.
func Configure(f func(i int, cfg *node.Config)) Option {
	return func(o *options) { o.configure = f }
}

// Writers gives namespace ns a writer list on every node: the IDs of the
// nodes at the given indexes (node.Config.Writers). It is applied before
// Configure, which may still change it per node. Repeat it for more
// namespaces.
func Writers(ns string, nodes ...int) Option {
	return func(o *options) {
		if o.writers == nil {
			o.writers = make(map[string][]int)
		}
		o.writers[ns] = nodes
	}
}

// OnDisk puts every node's storage on disk, in its own data directory,
// which Stop keeps and Restart reopens. Configure may still change it
// per node.
func OnDisk() Option { return func(o *options) { o.onDisk = true } }

// ConnGrace sets the grace period of every host's connection manager: how
// long a new connection is safe from trimming (default 20 s, longer than
// most tests). A test of what survives a trim sets it short and triggers
// the trim with the host's ConnManager().TrimOpenConns.
func ConnGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

// Unconnected links every pair of hosts but connects none: the test
// connects them with Connect (or Heal) when it likes.
func Unconnected() Option { return func(o *options) { o.connect = false } }

// Unlinked neither links nor connects the hosts: no node can reach another
// until Connect or Heal.
func Unlinked() Option { return func(o *options) { o.link, o.connect = false, false } }

// Cluster is n nodes on one libp2p mocknet, each with the fast profile of
// Config, on a mocknet host with a connection manager (host.go). By
// default every pair of hosts is linked and connected before
// the nodes start. Everything is closed at the test's cleanup. A Cluster
// is used from the test's goroutine only.
type Cluster struct {
	tb      testing.TB
	mn      mocknet.Mocknet
	latency [2]time.Duration // Latency's range
	grace   time.Duration    // ConnGrace
	cfgs    []node.Config
	nodes   []*node.Node // nil while stopped
	ids     []identity
	sideA   map[int]bool // the partition in force, nil if none
	// cut is the partition for enforceCut (peer ID → on side A; nil
	// when healed): it is read on libp2p's goroutines.
	cut atomic.Pointer[map[libp2ppeer.ID]bool]
}

// identity is what Restart needs to bring a node back under its own ID.
type identity struct {
	key  ic.PrivKey
	addr multiaddr.Multiaddr
}

// NewCluster starts n nodes on one mocknet; see the Options for the
// topology and configuration. It does not wait for gossip to flow: call
// WarmUp for that.
func NewCluster(tb testing.TB, n int, opts ...Option) *Cluster {
	tb.Helper()
	o := options{link: true, connect: true, bootstrap: -1, grace: connGrace}
	for _, opt := range opts {
		opt(&o)
	}
	c := &Cluster{tb: tb, mn: mocknet.New(), latency: o.latency, grace: o.grace}
	tb.Cleanup(func() { _ = c.mn.Close() }) // after the nodes' cleanups
	hosts := make([]host.Host, n)
	for i := range hosts {
		h, err := genPeer(c.mn)
		if err != nil {
			tb.Fatal(err)
		}
		hosts[i] = h
	}
	for i, h := range hosts {
		cfg := profile(tb)
		cfg.Host = h
		cfg.Storage.InMemory = !o.onDisk
		if o.bootstrap >= 0 && o.bootstrap != i {
			b := hosts[o.bootstrap]
			cfg.Peer.Bootstrap = []string{fmt.Sprintf("%s/p2p/%s", b.Addrs()[0], b.ID())}
		}
		for ns, idx := range o.writers {
			if cfg.Writers == nil {
				cfg.Writers = make(map[string][]libp2ppeer.ID)
			}
			for _, j := range idx {
				cfg.Writers[ns] = append(cfg.Writers[ns], hosts[j].ID())
			}
		}
		if o.configure != nil {
			o.configure(i, &cfg)
		}
		cfg.Host = c.wrap(h, cfg)
		c.cfgs = append(c.cfgs, cfg)
		c.ids = append(c.ids, identity{key: h.Peerstore().PrivKey(h.ID()), addr: h.Addrs()[0]})
	}
	if o.link {
		if err := c.mn.LinkAll(); err != nil {
			tb.Fatal(err)
		}
		for i := range hosts {
			for j := i + 1; j < len(hosts); j++ {
				c.setLatency(i, j)
			}
		}
	}
	if o.connect {
		if err := c.mn.ConnectAllButSelf(); err != nil {
			tb.Fatal(err)
		}
	}
	for _, cfg := range c.cfgs {
		c.nodes = append(c.nodes, Start(tb, cfg))
	}
	return c
}

// Len is the number of nodes, running or stopped.
func (c *Cluster) Len() int { return len(c.nodes) }

// Node returns node i, or nil while it is stopped.
func (c *Cluster) Node(i int) *node.Node { return c.nodes[i] }

// Nodes returns the running nodes, in index order.
func (c *Cluster) Nodes() []*node.Node {
	var ns []*node.Node
	for _, n := range c.nodes {
		if n != nil {
			ns = append(ns, n)
		}
	}
	return ns
}

// Config returns the configuration node i was started with (its Host is
// the node's current mocknet host).
func (c *Cluster) Config(i int) node.Config { return c.cfgs[i] }

func (c *Cluster) host(i int) host.Host { return c.cfgs[i].Host }

// running fails the test unless node i runs.
func (c *Cluster) running(i int) {
	c.tb.Helper()
	if c.nodes[i] == nil {
		c.tb.Fatalf("nodetest: node %d is stopped", i)
	}
}

// Partition cuts a healed cluster in two, sideA and the other nodes: it
// unlinks and disconnects every pair of running nodes across the cut. A
// stopped node listed in sideA restarts on that side. Heal undoes it.
func (c *Cluster) Partition(sideA ...int) {
	c.tb.Helper()
	c.sideA = make(map[int]bool)
	for _, i := range sideA {
		c.sideA[i] = true
	}
	cut := make(map[libp2ppeer.ID]bool)
	for i := range c.nodes {
		cut[c.host(i).ID()] = c.sideA[i]
	}
	c.cut.Store(&cut)
	across := func(yield func(a, b libp2ppeer.ID) bool) {
		for i := range c.nodes {
			for j := i + 1; j < len(c.nodes); j++ {
				if c.sideA[i] != c.sideA[j] && c.nodes[i] != nil && c.nodes[j] != nil &&
					!yield(c.host(i).ID(), c.host(j).ID()) {
					return
				}
			}
		}
	}
	for a, b := range across {
		if len(c.mn.LinksBetweenPeers(a, b)) > 0 {
			if err := c.mn.UnlinkPeers(a, b); err != nil {
				c.tb.Fatal(err)
			}
		}
	}
	// A dial that passed mocknet's link check before the unlinking can
	// still open a connection: close until none is left across the cut.
	// mocknet closes the far end of a connection later, and a stream
	// opened on it meanwhile (GossipSub reopens its stream at once) lives
	// on both closed ends: reset every stream left on them.
	var closed []network.Conn
	for open := true; open; {
		open = false
		for a, b := range across {
			conns := append(c.mn.Net(a).ConnsToPeer(b), c.mn.Net(b).ConnsToPeer(a)...)
			if len(conns) > 0 {
				open = true
				closed = append(closed, conns...)
				_ = c.mn.DisconnectPeers(a, b)
				_ = c.mn.DisconnectPeers(b, a)
			}
		}
	}
	for _, conn := range closed {
		for _, s := range conn.GetStreams() {
			_ = s.Reset()
		}
	}
}

// Heal ends any partition: it links and connects every pair of running
// nodes.
func (c *Cluster) Heal() {
	c.tb.Helper()
	c.sideA = nil
	c.cut.Store(nil)
	for i := range c.nodes {
		for j := i + 1; j < len(c.nodes); j++ {
			if c.nodes[i] != nil && c.nodes[j] != nil {
				c.Connect(i, j)
			}
		}
	}
}

// Connect links nodes i and j if they are not, and connects them.
func (c *Cluster) Connect(i, j int) {
	c.tb.Helper()
	c.running(i)
	c.running(j)
	a, b := c.host(i).ID(), c.host(j).ID()
	if len(c.mn.LinksBetweenPeers(a, b)) == 0 {
		if _, err := c.mn.LinkPeers(a, b); err != nil {
			c.tb.Fatal(err)
		}
		c.setLatency(i, j)
	}
	if _, err := c.mn.ConnectPeers(a, b); err != nil {
		c.tb.Fatal(err)
	}
}

// Stop closes node i and its host, and unlinks it from the others. Its
// data directory stays: Restart reopens it (its data survives only with
// on-disk storage).
func (c *Cluster) Stop(i int) {
	c.tb.Helper()
	c.running(i)
	if err := c.nodes[i].Close(); err != nil {
		c.tb.Fatal(err)
	}
	c.nodes[i] = nil
	id := c.host(i).ID()
	for j := range c.nodes {
		if other := c.host(j).ID(); j != i && len(c.mn.LinksBetweenPeers(id, other)) > 0 {
			if err := c.mn.UnlinkPeers(id, other); err != nil {
				c.tb.Fatal(err)
			}
		}
	}
	if err := c.host(i).Close(); err != nil {
		c.tb.Fatal(err)
	}
}

// Restart starts stopped node i again with its configuration and data
// directory, on a new host of the same mocknet with the same identity (peer
// ID, key and address), linked and connected to every running node on its
// side of the partition in force. It does not wait for gossip: call WarmUp
// if the test needs it.
func (c *Cluster) Restart(i int) *node.Node {
	c.tb.Helper()
	if c.nodes[i] != nil {
		c.tb.Fatalf("nodetest: node %d is running", i)
	}
	h, err := c.mn.AddPeer(c.ids[i].key, c.ids[i].addr)
	if err != nil {
		c.tb.Fatal(err)
	}
	c.cfgs[i].Host = c.wrap(h, c.cfgs[i])
	c.nodes[i] = Start(c.tb, c.cfgs[i])
	for j := range c.nodes {
		if j != i && c.nodes[j] != nil && (c.sideA == nil || c.sideA[i] == c.sideA[j]) {
			c.Connect(i, j)
		}
	}
	return c.nodes[i]
}

// WarmUp writes a probe key on each running node (probe-<i> in the default
// namespace) until every other running node has it: GossipSub drops what
// is published before its router has taken a new peer in, so tests of push
// replication call WarmUp first. (Anti-entropy repairs such losses.)
func (c *Cluster) WarmUp() {
	c.tb.Helper()
	ctx := context.Background()
	nodes := c.Nodes()
	for i, src := range c.nodes {
		if src == nil {
			continue
		}
		key := []byte(fmt.Sprint("probe-", i))
		testutil.Eventually(c.tb, fmt.Sprintf("gossip warm-up from node %d", i), func() bool {
			if _, err := src.Put(ctx, "", key, []byte("x")); err != nil {
				c.tb.Fatal(err)
			}
			for _, dst := range nodes {
				if _, err := dst.Get(ctx, "", key); err != nil {
					return false
				}
			}
			return true
		})
	}
}

// Converged reports whether nodes hold identical state (by
// node.DigestForTest); with no argument, the running nodes of the cluster.
func (c *Cluster) Converged(nodes ...*node.Node) bool {
	if len(nodes) == 0 {
		nodes = c.Nodes()
	}
	return Converged(nodes...)
}

// WaitConverged waits until the running nodes hold identical state.
func (c *Cluster) WaitConverged() {
	c.tb.Helper()
	testutil.Eventually(c.tb, fmt.Sprintf("identical state on the %d running nodes", len(c.Nodes())), func() bool { return c.Converged() })
}

// Converged reports whether nodes hold identical state, by
// node.DigestForTest.
func Converged(nodes ...*node.Node) bool {
	if len(nodes) == 0 {
		return true
	}
	d := nodes[0].DigestForTest()
	for _, n := range nodes[1:] {
		if n.DigestForTest() != d {
			return false
		}
	}
	return true
}

// NewHost adds a plain libp2p host to the cluster's mocknet, linked to
// every node's host and not connected to any: a libp2p peer (identify and
// whatever the test mounts on it) that is not a grapevine peer, like a
// light client. It is closed at cleanup.
func (c *Cluster) NewHost() host.Host {
	c.tb.Helper()
	h, err := genPeer(c.mn)
	if err != nil {
		c.tb.Fatal(err)
	}
	c.tb.Cleanup(func() { _ = h.Close() })
	for _, cfg := range c.cfgs {
		if _, err := c.mn.LinkPeers(h.ID(), cfg.Host.ID()); err != nil {
			c.tb.Fatal(err)
		}
	}
	return h
}

// enforceCut closes every connection h gets across the partition in
// force: one whose dial passed mocknet's link check just before Partition
// unlinked the pair (mocknet has no connection gater to refuse it).
func (c *Cluster) enforceCut(h host.Host) {
	h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, conn network.Conn) {
		if c.across(conn.LocalPeer(), conn.RemotePeer()) {
			go conn.Close() // not in the notification: Close notifies too
		}
	}})
}
