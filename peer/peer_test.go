package peer

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/internal/wire"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	dutil "github.com/libp2p/go-libp2p/p2p/discovery/util"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/multiformats/go-multiaddr"
)

// testConfig is the fast profile: loopback only, ports chosen by the kernel,
// mDNS off (the sandbox's only multicast interface is not loopback), short
// discovery interval.
func testConfig(t *testing.T, dir string, bootstrap ...string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	cfg.Bootstrap = bootstrap
	cfg.MDNS = false
	cfg.DiscoveryInterval = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	return cfg
}

// newPeer builds a Peer (not started) and closes it at cleanup.
func newPeer(t *testing.T, cfg Config) *Peer {
	t.Helper()
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// startPeer builds and starts a Peer, closed at cleanup.
func startPeer(t *testing.T, cfg Config) *Peer {
	t.Helper()
	p := newPeer(t, cfg)
	if err := p.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return p
}

// addrWith returns p's first full address whose string contains sub.
func addrWith(t *testing.T, p *Peer, sub string) string {
	t.Helper()
	for _, a := range p.Addrs() {
		if s := a.String(); strings.Contains(s, sub) && strings.HasPrefix(s, "/ip4/127.0.0.1/") {
			return s
		}
	}
	t.Fatalf("no address with %q in %v", sub, p.Addrs())
	return ""
}

func connected(a, b *Peer) bool {
	return slices.ContainsFunc(a.Peers(), func(i Info) bool { return i.ID == b.ID() })
}

func TestIdentityCreatedWith0600AndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	p1, err := New(t.Context(), testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	id := p1.ID()
	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, identityFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("identity key mode %o, want 600", st.Mode().Perm())
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v, mode %v, want 700", err, st.Mode().Perm())
	}
	if pub, err := id.ExtractPublicKey(); err != nil || pub.Type().String() != "Ed25519" {
		t.Errorf("peer ID key %v (%v), want Ed25519", pub, err)
	}

	// A key that others can read is still used, and its mode is tightened.
	if err := os.Chmod(filepath.Join(dir, identityFile), 0o644); err != nil {
		t.Fatal(err)
	}
	p2 := newPeer(t, testConfig(t, dir))
	if p2.ID() != id {
		t.Errorf("restart changed identity: %s, then %s", id, p2.ID())
	}
	if st, _ := os.Stat(filepath.Join(dir, identityFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("identity key mode %o after restart, want 600", st.Mode().Perm())
	}
}

func TestIdentityCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, identityFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(t.Context(), testConfig(t, dir))
	if !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), identityFile) {
		t.Fatalf("New with a corrupt key: %v, want ErrIdentity naming the file", err)
	}
}

func TestListenTCPAndQUICPortZero(t *testing.T) {
	p := newPeer(t, testConfig(t, t.TempDir()))
	tcpAddr, quicAddr := addrWith(t, p, "/tcp/"), addrWith(t, p, "/quic-v1/")
	for _, s := range []string{tcpAddr, quicAddr} {
		if strings.Contains(s, "/tcp/0/") || strings.Contains(s, "/udp/0/") {
			t.Errorf("address %s still has port 0", s)
		}
	}
	for _, a := range p.Addrs() {
		id, err := a.ValueForProtocol(multiaddr.P_P2P)
		if err != nil || id != p.ID().String() || !strings.HasSuffix(a.String(), "/p2p/"+id) {
			t.Errorf("address %s does not end in /p2p/%s", a, p.ID())
		}
	}
	// Each transport accepts a connection on its own.
	for _, s := range []string{tcpAddr, quicAddr} {
		d := newPeer(t, testConfig(t, t.TempDir()))
		info, err := peer.AddrInfoFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Host().Connect(t.Context(), *info); err != nil {
			t.Fatalf("dial %s: %v", s, err)
		}
		conns := d.Host().Network().ConnsToPeer(p.ID())
		if len(conns) == 0 {
			t.Fatalf("no connection after dialling %s", s)
		}
		got := conns[0].RemoteMultiaddr().String()
		if !strings.HasPrefix(s, got) {
			t.Errorf("dialled %s, connected over %s", s, got)
		}
	}
}

func TestAddrsExpandsUnspecified(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.ListenAddrs = []string{"/ip4/0.0.0.0/tcp/0"} // listens only; nothing dials it
	p := newPeer(t, cfg)
	var loop bool
	for _, a := range p.Addrs() {
		if strings.HasPrefix(a.String(), "/ip4/0.0.0.0/") {
			t.Errorf("unspecified address %s in Addrs", a)
		}
		if strings.HasPrefix(a.String(), "/ip4/127.0.0.1/tcp/") {
			loop = true
		}
	}
	if !loop {
		t.Errorf("Addrs %v lacks the loopback address", p.Addrs())
	}
}

func TestDHTUsesPrivateProtocolPrefix(t *testing.T) {
	a := startPeer(t, testConfig(t, t.TempDir()))
	b := startPeer(t, testConfig(t, t.TempDir(), addrWith(t, a, "/tcp/")))
	for _, p := range []*Peer{a, b} {
		protos := p.Host().Mux().Protocols()
		if !slices.Contains(protos, DHTProtocol(DefaultNetwork)) {
			t.Errorf("host protocols %v lack %s", protos, DHTProtocol(DefaultNetwork))
		}
		for _, id := range protos {
			if strings.HasPrefix(string(id), "/ipfs/kad/") {
				t.Errorf("host speaks the public DHT protocol %s", id)
			}
		}
	}
	// The two DHTs talk to each other over the private protocol.
	testutil.EventuallyWithin(t, 10*time.Second, "a and b in each other's routing table", func() bool {
		return a.DHT().RoutingTable().Find(b.ID()) != "" && b.DHT().RoutingTable().Find(a.ID()) != ""
	})
}

func TestRendezvousDiscovery(t *testing.T) {
	a := startPeer(t, testConfig(t, t.TempDir()))
	boot := addrWith(t, a, "/tcp/")
	b := startPeer(t, testConfig(t, t.TempDir(), boot))
	c := startPeer(t, testConfig(t, t.TempDir(), boot))
	testutil.EventuallyWithin(t, 20*time.Second, "b and c connected", func() bool { return connected(b, c) && connected(c, b) })

	// Cut b from c: the discovery loop finds c again (nothing else would
	// within the deadline: the DHT's own refresh runs every few minutes).
	for _, x := range [][2]*Peer{{b, c}, {c, b}} {
		if err := x[0].Host().Network().ClosePeer(x[1].ID()); err != nil {
			t.Fatal(err)
		}
	}
	testutil.EventuallyWithin(t, 20*time.Second, "b and c reconnected", func() bool { return connected(b, c) })

	// Both advertised the rendezvous: a lookup from a finds them.
	testutil.EventuallyWithin(t, 20*time.Second, "b and c providers of the rendezvous", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		infos, err := dutil.FindPeers(ctx, a.disc, "grapevine/default")
		if err != nil {
			return false
		}
		var ids []peer.ID
		for _, i := range infos {
			ids = append(ids, i.ID)
		}
		return slices.Contains(ids, b.ID()) && slices.Contains(ids, c.ID())
	})
}

// TestNetworksIsolate runs two networks, alpha (a1, a2) and beta (b1, b2),
// given the same bootstrap peer (a1): each forms its own DHT, no peer
// counts, keeps a connection to or discovers a peer of the other network,
// and a beta peer's dial to an alpha peer is refused and counted on both
// sides.
func TestNetworksIsolate(t *testing.T) {
	netCfg := func(network string, bootstrap ...string) Config {
		cfg := testConfig(t, t.TempDir(), bootstrap...)
		cfg.Network = network
		return cfg
	}
	a1 := startPeer(t, netCfg("alpha"))
	boot := addrWith(t, a1, "/tcp/")
	a2 := startPeer(t, netCfg("alpha", boot))
	b1 := startPeer(t, netCfg("beta", boot))
	b2 := startPeer(t, netCfg("beta", boot, addrWith(t, b1, "/tcp/")))
	alpha, beta := []*Peer{a1, a2}, []*Peer{b1, b2}

	testutil.EventuallyWithin(t, 20*time.Second, "each network connected within", func() bool {
		return connected(a1, a2) && connected(a2, a1) && connected(b1, b2) && connected(b2, b1)
	})
	// b1 and b2 dialled a1 (their bootstrap peer): whichever side
	// identified the other first refused the connection.
	testutil.EventuallyWithin(t, 20*time.Second, "beta's dials to alpha refused and counted", func() bool {
		return a1.Stats().RefusedNetwork+b1.Stats().RefusedNetwork >= 1 && a1.Stats().RefusedNetwork+b2.Stats().RefusedNetwork >= 1
	})
	// Both networks advertised their rendezvous in their own DHT.
	for _, x := range []struct {
		p        *Peer
		ns       string
		provider *Peer
	}{{a1, "grapevine/alpha", a2}, {b1, "grapevine/beta", b2}} {
		testutil.EventuallyWithin(t, 20*time.Second, x.ns+" advertised", func() bool {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			infos, _ := dutil.FindPeers(ctx, x.p.disc, x.ns)
			return slices.ContainsFunc(infos, func(i peer.AddrInfo) bool { return i.ID == x.provider.ID() })
		})
	}
	// Every peer dials every peer of the other network: each such
	// connection is closed (whoever identifies the other first refuses
	// it), and no peer ever lists one of the other network.
	all := append(slices.Clone(alpha), beta...)
	crossed := func(x, y *Peer) bool { return x.cfg.Network != y.cfg.Network }
	for _, x := range all {
		for _, y := range all {
			if crossed(x, y) {
				_ = x.Host().Connect(t.Context(), peer.AddrInfo{ID: y.ID(), Addrs: y.Host().Addrs()})
			}
		}
	}
	testutil.EventuallyWithin(t, 10*time.Second, "no connection between the networks", func() bool {
		for _, x := range all {
			for _, y := range all {
				if crossed(x, y) && x.Host().Network().Connectedness(y.ID()) == network.Connected {
					return false
				}
			}
		}
		return true
	})
	for _, x := range all {
		x.Redial(t.Context()) // b1 and b2 redial a1, their bootstrap peer
		for _, y := range all {
			if !crossed(x, y) {
				continue
			}
			if connected(x, y) {
				t.Errorf("a %s peer lists a %s peer in Peers()", x.cfg.Network, y.cfg.Network)
			}
			if x.DHT().RoutingTable().Find(y.ID()) != "" {
				t.Errorf("a %s peer has a %s peer in its DHT routing table", x.cfg.Network, y.cfg.Network)
			}
		}
	}
	if !connected(a1, a2) || !connected(b1, b2) {
		t.Error("peers of one network lost each other")
	}
	// The DHTs are disjoint: a lookup in alpha's finds no beta peer.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if infos, _ := dutil.FindPeers(ctx, a1.disc, "grapevine/beta"); len(infos) != 0 {
		t.Errorf("alpha's DHT offers beta peers: %v", infos)
	}
}

// TestOtherNetworkDialRefused: a peer that speaks another network's
// protocols (and does not refuse anyone itself) dials an alpha peer: the
// connection is closed and counted, and its next attempt is refused by the
// gater while it is held off.
func TestOtherNetworkDialRefused(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Network = "alpha"
	a := startPeer(t, cfg)
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	h.SetStreamHandler(protocol.ID(wire.SyncProtocol("beta")), func(s network.Stream) { _ = s.Reset() })
	infoA := peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}
	_ = h.Connect(t.Context(), infoA)
	testutil.EventuallyWithin(t, 10*time.Second, "the beta peer refused and disconnected", func() bool {
		return a.Stats().RefusedNetwork == 1 && h.Network().Connectedness(a.ID()) != network.Connected
	})
	if len(a.Peers()) != 0 {
		t.Errorf("Peers() = %v, want none", a.Peers())
	}
	// Held off: the next attempt fails in a's gater, and is counted too.
	_ = h.Connect(t.Context(), infoA)
	testutil.EventuallyWithin(t, 10*time.Second, "the second attempt refused", func() bool {
		return a.Stats().RefusedNetwork == 2 && h.Network().Connectedness(a.ID()) != network.Connected
	})
	if err := a.Host().Connect(t.Context(), peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err == nil {
		t.Error("a dialled the beta peer it holds off")
	}
}

// TestNonGrapevinePeerStaysButIsNotAPeer: a libp2p peer that speaks no
// grapevine protocol (a client of the DHT or GossipSub, say) may stay
// connected, but is neither refused nor listed by Peers.
func TestNonGrapevinePeerStaysButIsNotAPeer(t *testing.T) {
	a := startPeer(t, testConfig(t, t.TempDir()))
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if err := h.Connect(t.Context(), peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyWithin(t, 10*time.Second, "a identified the client", func() bool {
		protos, _ := a.Host().Peerstore().GetProtocols(h.ID())
		return len(protos) > 0
	})
	if a.Host().Network().Connectedness(h.ID()) != network.Connected {
		t.Error("a disconnected a libp2p peer that speaks no grapevine protocol")
	}
	if len(a.Peers()) != 0 || a.Stats() != (Stats{}) {
		t.Errorf("Peers() = %v, Stats() = %+v; want no peer and no refusal", a.Peers(), a.Stats())
	}
}

func TestRestartRejoinsThroughKnownPeers(t *testing.T) {
	a := startPeer(t, testConfig(t, t.TempDir()))
	dir := t.TempDir()
	b, err := New(t.Context(), testConfig(t, dir, addrWith(t, a, "/tcp/")))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyWithin(t, 10*time.Second, "b remembers a", func() bool {
		return slices.ContainsFunc(b.knownInfos(), func(i peer.AddrInfo) bool { return i.ID == a.ID() })
	})
	id := b.ID()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, knownPeersFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), a.ID().String()) {
		t.Fatalf("peers.json lacks a (%s):\n%s", a.ID(), raw)
	}
	if st, _ := os.Stat(filepath.Join(dir, knownPeersFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("peers.json mode %o, want 600", st.Mode().Perm())
	}
	testutil.EventuallyWithin(t, 10*time.Second, "a sees b gone", func() bool { return !slices.ContainsFunc(a.Peers(), func(i Info) bool { return i.ID == id }) })

	b2 := startPeer(t, testConfig(t, dir)) // no bootstrap
	if b2.ID() != id {
		t.Fatalf("restarted peer has ID %s, want %s", b2.ID(), id)
	}
	testutil.EventuallyWithin(t, 20*time.Second, "restarted b connected to a", func() bool { return connected(b2, a) })
}

func TestKnownPeersSavedWhileRunning(t *testing.T) {
	a := startPeer(t, testConfig(t, t.TempDir()))
	dir := t.TempDir()
	b := newPeer(t, testConfig(t, dir, addrWith(t, a, "/tcp/")))
	b.setSaveDelayForTest(10 * time.Millisecond)
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyWithin(t, 10*time.Second, "peers.json lists a", func() bool {
		m, err := loadKnownPeers(filepath.Join(dir, knownPeersFile), b.ID())
		return err == nil && m[a.ID()] != nil && len(m[a.ID()].addrs) > 0
	})
}

func TestPrivateNetwork(t *testing.T) {
	key := func(b byte) []byte {
		k := make([]byte, 32)
		for i := range k {
			k[i] = b + byte(i)
		}
		return k
	}
	withKey := func(k []byte, bootstrap ...string) Config {
		cfg := testConfig(t, t.TempDir(), bootstrap...)
		cfg.PrivateNetworkKey = k
		return cfg
	}
	a := startPeer(t, withKey(key(1)))
	for _, addr := range a.Addrs() {
		if strings.Contains(addr.String(), "/quic-v1") {
			t.Errorf("private network peer listens on QUIC: %s", addr)
		}
	}
	boot := addrWith(t, a, "/tcp/")
	b := startPeer(t, withKey(key(1), boot))
	testutil.EventuallyWithin(t, 10*time.Second, "same-key peers connected", func() bool { return connected(b, a) })

	// A peer with another key, or none, cannot connect (the handshake
	// stalls, so each dial runs into its timeout; both run at once).
	info, err := peer.AddrInfoFromString(boot)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for name, cfg := range map[string]Config{"other key": withKey(key(2)), "no key": testConfig(t, t.TempDir())} {
		o := newPeer(t, cfg)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			if err := o.Host().Connect(ctx, *info); err == nil {
				t.Errorf("%s: connected to a private network peer", name)
			}
		})
	}
	wg.Wait()
	// Nor can the keyed peer connect to an unkeyed one, or to one with
	// another key.
	for name, cfg := range map[string]Config{"other key": withKey(key(2)), "no key": testConfig(t, t.TempDir())} {
		o := startPeer(t, cfg)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			if err := a.Host().Connect(ctx, peer.AddrInfo{ID: o.ID(), Addrs: o.Host().Addrs()}); err == nil {
				t.Errorf("the private network peer connected to a peer with %s", name)
			}
		})
	}
	wg.Wait()
	if len(a.Peers()) != 1 {
		t.Errorf("a's peers %v, want only b", a.Peers())
	}

	file := "/key/swarm/psk/1.0.0/\n/base16/\n" + hex.EncodeToString(key(1))
	got, err := DecodePrivateNetworkKey(strings.NewReader(file))
	if err != nil || string(got) != string(key(1)) {
		t.Errorf("DecodePrivateNetworkKey = %x, %v; want %x", got, err, key(1))
	}
	if _, err := DecodePrivateNetworkKey(strings.NewReader("nonsense")); err == nil {
		t.Error("DecodePrivateNetworkKey accepted nonsense")
	}
}

func TestNotify(t *testing.T) {
	a := newPeer(t, testConfig(t, t.TempDir()))
	got := make(chan peer.ID, 16)
	a.Notify(func(id peer.ID) { got <- id })
	a.Notify(nil) // ignored
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	b := startPeer(t, testConfig(t, t.TempDir(), addrWith(t, a, "/tcp/")))
	select {
	case id := <-got:
		if id != b.ID() {
			t.Fatalf("notified of %s, want %s", id, b.ID())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification of b connecting")
	}
}

func TestPeersInfo(t *testing.T) {
	a := startPeer(t, testConfig(t, t.TempDir()))
	boot := addrWith(t, a, "/tcp/")
	b := startPeer(t, testConfig(t, t.TempDir(), boot))
	c := startPeer(t, testConfig(t, t.TempDir(), boot))
	testutil.EventuallyWithin(t, 10*time.Second, "a connected to b and c", func() bool { return connected(a, b) && connected(a, c) })
	infos := a.Peers()
	if !slices.IsSortedFunc(infos, func(x, y Info) int { return strings.Compare(string(x.ID), string(y.ID)) }) {
		t.Errorf("Peers not sorted by ID: %v", infos)
	}
	for _, i := range infos {
		if len(i.Addrs) == 0 || i.Latency < 0 {
			t.Errorf("peer info %+v: want addresses and a non-negative latency", i)
		}
	}
}

func TestLifecycle(t *testing.T) {
	p := newPeer(t, testConfig(t, t.TempDir()))
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second Start: %v, want ErrAlreadyStarted", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	q := newPeer(t, testConfig(t, t.TempDir()))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
}

func TestValidate(t *testing.T) {
	good := DefaultConfig()
	good.DataDir = "/tmp/x"
	if err := good.Validate(); err != nil {
		t.Fatalf("default config with DataDir: %v", err)
	}
	const id = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no data dir", func(c *Config) { c.DataDir = "" }, "DataDir is empty"},
		{"no listen", func(c *Config) { c.ListenAddrs = nil }, "no listen addresses"},
		{"bad listen", func(c *Config) { c.ListenAddrs = []string{"tcp://0.0.0.0:4101"} }, `listen address "tcp://0.0.0.0:4101"`},
		{"websocket listen", func(c *Config) { c.ListenAddrs = []string{"/ip4/0.0.0.0/tcp/1/ws"} }, "only TCP"},
		{"old quic", func(c *Config) { c.ListenAddrs = []string{"/ip4/0.0.0.0/udp/1/quic"} }, "listen address"},
		{"bootstrap without p2p", func(c *Config) { c.Bootstrap = []string{"/ip4/10.0.0.1/tcp/4101"} }, "must end in /p2p/<peer-id>"},
		{"bootstrap only p2p", func(c *Config) { c.Bootstrap = []string{"/p2p/" + id} }, "no transport address"},
		{"bootstrap bad id", func(c *Config) { c.Bootstrap = []string{"/ip4/10.0.0.1/tcp/4101/p2p/nope"} }, `bootstrap address "/ip4/10.0.0.1/tcp/4101/p2p/nope"`},
		{"bootstrap garbage", func(c *Config) { c.Bootstrap = []string{"10.0.0.1:4101"} }, "bootstrap address"},
		{"empty network", func(c *Config) { c.Network = "" }, "network name is empty"},
		{"no logger", func(c *Config) { c.Logger = nil }, "logger (Logger) is nil"},
		{"bad network", func(c *Config) { c.Network = "a/b" }, `network name "a/b"`},
		{"long network", func(c *Config) { c.Network = strings.Repeat("n", 65) }, "at most 64"},
		{"zero interval", func(c *Config) { c.DiscoveryInterval = 0 }, "DiscoveryInterval 0s is not positive"},
		{"low above high", func(c *Config) { c.LowWater, c.HighWater = 10, 5 }, "want 0 <= low < high"},
		{"negative low", func(c *Config) { c.LowWater = -1 }, "want 0 <= low < high"},
		{"short psk", func(c *Config) { c.PrivateNetworkKey = make([]byte, 16) }, "PrivateNetworkKey is 16 bytes, want 32"},
		{"psk without tcp", func(c *Config) {
			c.PrivateNetworkKey = make([]byte, 32)
			c.ListenAddrs = []string{"/ip4/0.0.0.0/udp/1/quic-v1"}
		}, "TCP only"},
	}
	t.Run("every problem listed", func(t *testing.T) {
		c := good
		c.DataDir, c.DiscoveryInterval, c.Network = "", 0, "a/b"
		err := c.Validate()
		for _, want := range []string{"DataDir is empty", "DiscoveryInterval 0s", `network name "a/b"`} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Validate = %v, want it to mention %q", err, want)
			}
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.ListenAddrs = slices.Clone(good.ListenAddrs)
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig containing %q", err, tc.want)
			}
			if _, err := New(t.Context(), c); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New = %v, want ErrInvalidConfig", err)
			}
		})
	}
	ok := good
	ok.Bootstrap = []string{"/ip4/10.0.0.1/tcp/4101/p2p/" + id, "/ip6/::1/udp/4101/quic-v1/p2p/" + id}
	ok.ListenAddrs = []string{"/ip6/::/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// fakeMDNS stands in for the mdns package, whose multicast the sandbox has
// only on a non-loopback interface.
type fakeMDNS struct {
	mu      sync.Mutex
	name    string
	notifee mdns.Notifee
	closed  bool
}

func (f *fakeMDNS) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func TestMDNSFindsAreDialled(t *testing.T) {
	fake := &fakeMDNS{}
	a := startPeer(t, testConfig(t, t.TempDir()))
	cfg := testConfig(t, t.TempDir())
	cfg.MDNS = true
	b := newPeer(t, cfg)
	b.setMDNSForTest(func(_ host.Host, name string, n mdns.Notifee) (io.Closer, error) {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		fake.name, fake.notifee = name, n
		return fake, nil
	})
	if err := b.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if fake.name != "_grapevine-default._udp" {
		t.Errorf("mDNS service name %q, want _grapevine-default._udp", fake.name)
	}
	fake.notifee.HandlePeerFound(peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()})
	testutil.EventuallyWithin(t, 10*time.Second, "b connected to the peer mDNS found", func() bool { return connected(b, a) })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !fake.closed {
		t.Error("Close did not stop mDNS")
	}
}

func TestMDNSServiceName(t *testing.T) {
	for _, tc := range []struct{ network, want string }{
		{"default", "_grapevine-default._udp"},
		{"prod-eu", "_grapevine-prod-eu._udp"},
	} {
		if got := mdnsServiceName(tc.network); got != tc.want {
			t.Errorf("mdnsServiceName(%q) = %q, want %q", tc.network, got, tc.want)
		}
	}
	// Names that are not lower-case DNS labels are hashed, and stay distinct.
	seen := map[string]string{}
	for _, n := range []string{"Default", "default", "a.b", "a_b", strings.Repeat("x", 64), "x-"} {
		got := mdnsServiceName(n)
		if !strings.HasPrefix(got, "_grapevine-") || !strings.HasSuffix(got, "._udp") || len(got) > 63+6 {
			t.Errorf("mdnsServiceName(%q) = %q", n, got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("networks %q and %q share service name %q", prev, n, got)
		}
		seen[got] = n
	}
}

func TestNewWithHostLeavesHostOpen(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	h1, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	h2, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWithHost(t.Context(), nil, testConfig(t, t.TempDir())); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewWithHost(nil host): %v, want ErrInvalidConfig", err)
	}
	cfg1 := testConfig(t, t.TempDir())
	cfg1.ListenAddrs = nil // ignored with a given host
	p1, err := NewWithHost(t.Context(), h1, cfg1)
	if err != nil {
		t.Fatal(err)
	}
	boot := h1.Addrs()[0].String() + "/p2p/" + h1.ID().String()
	p2, err := NewWithHost(t.Context(), h2, testConfig(t, t.TempDir(), boot))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Peer{p1, p2} {
		if err := p.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	testutil.EventuallyWithin(t, 10*time.Second, "mocknet peers connected", func() bool { return connected(p1, p2) && connected(p2, p1) })
	for _, p := range []*Peer{p1, p2} {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Both hosts still work: drop the connection and dial again.
	if err := h1.Network().ClosePeer(h2.ID()); err != nil {
		t.Fatal(err)
	}
	if err := h1.Connect(t.Context(), peer.AddrInfo{ID: h2.ID(), Addrs: h2.Addrs()}); err != nil {
		t.Fatalf("host closed by Peer.Close: %v", err)
	}
}
