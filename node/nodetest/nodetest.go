// Package nodetest is the one scaffolding of tests that start grapevine
// nodes, in the spirit of net/http/httptest: Config is the fast test
// profile, Start starts one node, and Cluster runs several on one libp2p
// mocknet, with partitions, restarts and convergence checks. Everything is
// closed at the test's cleanup.
package nodetest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/node"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// Intervals of the fast profile: short, so that anti-entropy and discovery
// act within a test's patience, long enough not to swamp two shared cores.
const (
	SyncInterval      = 200 * time.Millisecond
	DiscoveryInterval = 200 * time.Millisecond
)

// profile is the fast test profile without a host.
func profile(tb testing.TB) node.Config {
	cfg := node.DefaultConfig()
	cfg.DataDir = tb.TempDir()
	cfg.Storage.InMemory, cfg.Storage.SyncWrites = true, false
	cfg.Peer.MDNS, cfg.Peer.ListenAddrs = false, nil
	cfg.Peer.DiscoveryInterval = DiscoveryInterval
	cfg.AntiEntropy.Interval = SyncInterval
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// Config returns the fast test profile, the configuration of every test
// node: in-memory storage (a fresh data directory for the identity), no
// fsync, mDNS off, no listen addresses, anti-entropy every SyncInterval
// (200 ms) and discovery every DiscoveryInterval (200 ms), logs discarded,
// on a fresh mocknet host of its own (closed at cleanup). Adjust it, then
// call Start. Cluster gives its nodes this profile on a shared mocknet.
//
// A benchmark that measures the real transport sets Host to nil and
// Peer.ListenAddrs to a loopback address.
func Config(tb testing.TB) node.Config {
	tb.Helper()
	mn := mocknet.New()
	tb.Cleanup(func() { _ = mn.Close() })
	h, err := mn.GenPeer()
	if err != nil {
		tb.Fatal(err)
	}
	cfg := profile(tb)
	cfg.Host = h
	return cfg
}

// Start builds and starts a node from cfg; it is closed at cleanup.
func Start(tb testing.TB, cfg node.Config) *node.Node {
	tb.Helper()
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = n.Close() })
	if err := n.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return n
}

// Dial connects from to to over from's host, with to's current addresses
// (for nodes on real hosts; on a mocknet use Cluster.Connect).
func Dial(tb testing.TB, from, to *node.Node) {
	tb.Helper()
	h := to.Peer().Host()
	if err := from.Peer().Host().Connect(context.Background(), libp2ppeer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
		tb.Fatal(err)
	}
}
