// Package nodetest is the one scaffolding of tests that start grapevine
// nodes, in the spirit of net/http/httptest: Config is the fast test
// profile, Start starts one node, and Cluster runs several on one libp2p
// mocknet, with partitions, restarts and convergence checks. Everything is
// closed at the test's cleanup.
package nodetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/node"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/multiformats/go-multiaddr"
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
	h, err := genPeer(mn)
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

// genPeer adds a host to mn with an Ed25519 identity, as a real node has
// (mocknet's GenPeer makes ECDSA keys, whose peer IDs do not embed the
// public key, so they could not be on a writer list), on a unique
// blackhole address.
func genPeer(mn mocknet.Mocknet) (host.Host, error) {
	sk, _, err := ic.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	id, err := libp2ppeer.IDFromPrivateKey(sk)
	if err != nil {
		return nil, err
	}
	ip := make(net.IP, net.IPv6len)
	ip[0] = 0x01 // 100::/64, the IPv6 discard prefix
	copy(ip[net.IPv6len-8:], id[len(id)-8:])
	a, err := multiaddr.NewMultiaddr(fmt.Sprintf("/ip6/%s/tcp/4242", ip))
	if err != nil {
		return nil, err
	}
	return mn.AddPeer(sk, a)
}
