package peer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/prometheus/client_golang/prometheus"
)

// ProtocolPrefix returns the prefix of the protocol IDs of network's DHT
// ("/grapevine/<network>", wire.ProtocolPrefix): each network has a DHT of
// its own, and none joins the public IPFS DHT, whose peers speak
// "/ipfs/kad/1.0.0".
func ProtocolPrefix(network string) protocol.ID { return protocol.ID(wire.ProtocolPrefix(network)) }

// DHTProtocol returns the protocol ID network's DHT speaks,
// "/grapevine/<network>/kad/1.0.0".
func DHTProtocol(network string) protocol.ID { return ProtocolPrefix(network) + "/kad/1.0.0" }

// networkHoldOff is how long a peer found to be on another network is
// refused (in both directions) after its connection was closed, so that
// discovery, a bootstrap list or the peer itself do not redial it at once.
const networkHoldOff = 10 * time.Minute

// allowPoll is the period of the checks for a changed allowlist file.
const allowPoll = 2 * time.Second

// Timing of the background work; not configurable because no user needs to
// tune them.
const (
	dialTimeout      = 10 * time.Second       // one dial attempt
	dialBatchTimeout = 2 * dialTimeout        // all dials of one batch
	maxFallbackKnown = 16                     // remembered peers the DHT falls back on
	maxParallelDials = 8                      // concurrent dials of one batch
	lookupTimeout    = 30 * time.Second       // one rendezvous advertise or lookup
	saveDelay        = 2 * time.Second        // debounce of peers.json writes
	minRetry         = 250 * time.Millisecond // first retry of a failed discovery round
	jitterFraction   = 0.2                    // ±20% on DiscoveryInterval
	mdnsQueue        = 64                     // mDNS finds waiting to be dialled
	findLimit        = 100                    // providers asked of one rendezvous lookup
)

// Errors returned by Start.
var (
	ErrClosed         = errors.New("peer: closed")
	ErrAlreadyStarted = errors.New("peer: already started")
)

// Info describes a connected peer.
type Info struct {
	// ID is the peer's identity.
	ID peer.ID
	// Addrs are the remote addresses of the open connections to the peer.
	Addrs []multiaddr.Multiaddr
	// Latency is the peer's smoothed round-trip latency, 0 if not yet measured.
	Latency time.Duration
	// ConnectedSince is when the oldest open connection to the peer
	// opened; zero if the transport does not tell (libp2p's mocknet).
	ConnectedSince time.Time
}

// Peer is the libp2p side of a grapevine peer: host, DHT and discovery.
// Its methods are safe for concurrent use.
type Peer struct {
	cfg        Config
	log        *slog.Logger
	host       host.Host
	ownsHost   bool
	gater      *gater      // allowlist, networks held off, block list (tests); NewWithHost's host does not consult it
	dhtProto   protocol.ID // DHTProtocol(cfg.Network)
	syncProto  protocol.ID // wire.SyncProtocol(cfg.Network)
	dht        *dht.IpfsDHT
	disc       *drouting.RoutingDiscovery
	bootstrap  []peer.AddrInfo
	rendezvous string
	knownPath  string

	// ctx is the lifetime context, cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	saveDelay  time.Duration      // debounce of peers.json writes (setSaveDelayForTest)
	startMDNS  mdnsStarter        // startMDNS, or a test's fake (setMDNSForTest)
	wakeNotify chan struct{}      // pending notifications (cap 1)
	found      chan peer.AddrInfo // mDNS finds
	jitter     struct {
		sync.Mutex
		rng *rand.Rand // seeded from the peer's ID (see Jittered)
	}
	lookups   prometheus.Counter // grapevine_discovery_lookups_total
	allowPoll time.Duration      // period of allowlist file checks (setAllowPollForTest)

	// allowMu serialises allowlist reloads; allowStamp is the version of
	// the file last loaded (or found broken).
	allowMu    sync.Mutex
	allowStamp fileStamp

	started   atomic.Bool // p.mu.started, for the DHT's callback
	closeOnce sync.Once
	closeErr  error

	mu struct {
		sync.Mutex
		started, closed bool
		notify          []func(peer.ID)
		pending         []peer.ID // connected peers not yet notified
		known           map[peer.ID]*knownPeer
		mdns            io.Closer
	}
}

// mdnsStarter starts mDNS discovery under service name and returns what
// stops it.
type mdnsStarter func(h host.Host, name string, n mdns.Notifee) (io.Closer, error)

// startMDNS is the mdnsStarter of every Peer but a test's (see
// setMDNSForTest).
func startMDNS(h host.Host, name string, n mdns.Notifee) (io.Closer, error) {
	svc := mdns.NewMdnsService(h, name, n)
	if err := svc.Start(); err != nil {
		_ = svc.Close()
		return nil, err
	}
	return svc, nil
}

// New builds a host (persisted identity, TCP and QUIC listeners, connection
// manager) and a DHT in server mode with ProtocolPrefix and no public
// bootstrap peers. It starts no discovery: call Start. The Peer owns the host
// and closes it in Close. ctx is used only for its values: the Peer lives
// until Close.
func New(ctx context.Context, cfg Config) (*Peer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkListenFree(cfg.ListenAddrs); err != nil {
		return nil, err // before anything is written in DataDir
	}
	log := cfg.Logger
	priv, err := loadOrCreateIdentity(cfg.DataDir, log)
	if err != nil {
		return nil, err
	}
	cm, err := connmgr.NewConnManager(cfg.LowWater, cfg.HighWater)
	if err != nil {
		return nil, fmt.Errorf("peer: connection manager: %w", err)
	}
	self, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("peer: identity: %w", err)
	}
	g := newGater(self, log.With("peer", self.ShortString()))
	var stamp fileStamp
	if cfg.AllowPeersFile != "" {
		stamp, _ = stampOf(cfg.AllowPeersFile)
		allow, err := loadAllowlist(cfg.AllowPeersFile)
		if err != nil {
			_ = cm.Close()
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		g.setAllow(allow)
		log.Info("allowlist on: only the peers it lists may connect", "file", cfg.AllowPeersFile, "peers", len(allow))
	}
	opts := []libp2p.Option{
		libp2p.Identity(priv),
		libp2p.UserAgent(cfg.UserAgent),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(g),
		libp2p.DisableRelay(), // no relays: peers reach each other directly; keeps /p2p-circuit out of Addrs
	}
	listen := cfg.ListenAddrs
	if len(cfg.PrivateNetworkKey) > 0 {
		listen = slices.DeleteFunc(slices.Clone(listen), func(s string) bool {
			a, err := parseListenAddr(s)
			return err != nil || !isTCP(a)
		})
		log.Info("private network on: only peers holding the same swarm key can connect; QUIC is off (libp2p private networks run over TCP only)",
			"quic_addrs_dropped", len(cfg.ListenAddrs)-len(listen))
		opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(slices.Clone(cfg.PrivateNetworkKey))))
	} else {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	opts = append(opts, libp2p.ListenAddrStrings(listen...))
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		_ = cm.Close()
		return nil, fmt.Errorf("peer: start host on %v: %w", listen, err)
	}
	p, err := build(ctx, h, cfg, log)
	if err != nil {
		_ = h.Close()
		return nil, err
	}
	p.ownsHost = true
	p.gater = g
	p.allowStamp = stamp
	return p, nil
}

// NewWithHost is New over a host the caller built (for example a go-libp2p
// mocknet host in tests). The caller keeps ownership of h: Close does not
// close it, and it must outlive the Peer. cfg.ListenAddrs is ignored and the
// identity key in cfg.DataDir is not used (h has its own); peers.json is.
func NewWithHost(ctx context.Context, h host.Host, cfg Config) (*Peer, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: nil host", ErrInvalidConfig)
	}
	if err := cfg.ValidateWithHost(); err != nil {
		return nil, err
	}
	p, err := build(ctx, h, cfg, cfg.Logger)
	if err != nil {
		return nil, err
	}
	p.gater = newGater(h.ID(), p.log) // kept for Block/Blocked and Stats; h does not consult it
	return p, nil
}

// build creates the DHT and the Peer around h.
func build(ctx context.Context, h host.Host, cfg Config, log *slog.Logger) (*Peer, error) {
	p := &Peer{
		cfg:        cfg,
		log:        log.With("peer", h.ID().ShortString()),
		host:       h,
		rendezvous: Rendezvous(cfg.Network),
		dhtProto:   DHTProtocol(cfg.Network),
		syncProto:  protocol.ID(wire.SyncProtocol(cfg.Network)),
		allowPoll:  allowPoll,
		knownPath:  filepath.Join(cfg.DataDir, knownPeersFile),
		saveDelay:  saveDelay,
		startMDNS:  startMDNS,
		wakeNotify: make(chan struct{}, 1),
		found:      make(chan peer.AddrInfo, mdnsQueue),
		lookups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grapevine_discovery_lookups_total",
			Help: "DHT lookups this peer started: rendezvous advertisements and lookups, namespace provider records and holder lookups.",
		}),
	}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(p.lookups); err != nil {
			return nil, fmt.Errorf("peer: metrics: %w", err)
		}
	}
	for _, s := range cfg.Bootstrap {
		info, err := parseBootstrapAddr(s)
		if err != nil { // unreachable after validate
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		if info.ID != h.ID() {
			p.bootstrap = append(p.bootstrap, info)
		}
	}
	seed := fnv.New64a()
	_, _ = seed.Write([]byte(h.ID()))
	p.jitter.rng = rand.New(rand.NewPCG(seed.Sum64(), 0x6772617065766e65))

	known, err := loadKnownPeers(p.knownPath, h.ID())
	if err != nil {
		p.log.Warn("ignoring unreadable known peers file", "err", err)
	}
	p.mu.known = known

	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	d, err := dht.New(h,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(ProtocolPrefix(cfg.Network)),
		dht.BootstrapPeersFunc(p.fallbackPeers),
	)
	if err != nil {
		p.cancel()
		return nil, fmt.Errorf("peer: dht: %w", err)
	}
	p.dht = d
	p.disc = drouting.NewRoutingDiscovery(d)
	return p, nil
}

// fallbackPeers is what the DHT dials when its routing table empties: the
// bootstrap list and the most recently seen remembered peers; nothing before
// Start, so that New dials no one.
func (p *Peer) fallbackPeers() []peer.AddrInfo {
	if !p.started.Load() {
		return nil
	}
	known := p.knownInfos()
	return append(slices.Clone(p.bootstrap), known[:min(len(known), maxFallbackKnown)]...)
}

// knownInfos returns the remembered peers, most recently seen first.
func (p *Peer) knownInfos() []peer.AddrInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]peer.AddrInfo, 0, len(p.mu.known))
	for _, id := range sortedKnown(p.mu.known) {
		out = append(out, peer.AddrInfo{ID: id, Addrs: slices.Clone(p.mu.known[id].addrs)})
	}
	return out
}

// Start subscribes to connection events, starts mDNS (if enabled), dials the
// bootstrap and remembered peers (in parallel, returning when all attempts
// have finished, or ctx is done, or after 10s at most), bootstraps the DHT and
// starts the discovery loop. Failing to reach any peer is not an
// error: the loop keeps trying. The background work runs until Close, which
// must be called even if Start fails. Start may be called once.
func (p *Peer) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if p.mu.started {
		p.mu.Unlock()
		return ErrAlreadyStarted
	}
	p.mu.started = true
	p.started.Store(true)
	sub, err := p.host.EventBus().Subscribe([]any{
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtPeerProtocolsUpdated),
	})
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("peer: subscribe to host events: %w", err)
	}
	p.wg.Go(func() { p.eventLoop(sub) })
	p.wg.Go(p.notifyLoop)
	if p.cfg.AllowPeersFile != "" {
		p.wg.Go(p.allowlistLoop)
	}
	if p.cfg.MDNS {
		svc, err := p.startMDNS(p.host, mdnsServiceName(p.cfg.Network), mdnsNotifee{p})
		if err != nil {
			p.log.Warn("mDNS discovery unavailable", "err", err)
		} else {
			p.mu.mdns = svc
			p.wg.Go(p.mdnsLoop)
		}
	}
	p.mu.Unlock()

	// Peers of this network identified between New and Start.
	for _, id := range p.host.Network().Peers() {
		if p.member(id) {
			p.onConnected(id)
		}
	}

	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	stop := context.AfterFunc(p.ctx, cancel)
	n := p.dialAll(dctx, append(slices.Clone(p.bootstrap), p.knownInfos()...))
	stop()
	cancel()
	p.log.Info("peer started", "addrs", p.Addrs(), "bootstrap", len(p.bootstrap), "connected", n)
	if err := ctx.Err(); err != nil {
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return ErrClosed
	}
	if err := p.dht.Bootstrap(p.ctx); err != nil {
		p.log.Warn("dht bootstrap", "err", err)
	}
	p.wg.Go(p.discoveryLoop)
	return nil
}

// Host returns the libp2p host. The Peer keeps ownership: do not close it.
func (p *Peer) Host() host.Host { return p.host }

// DHT returns the Kademlia DHT. The Peer keeps ownership: do not close it.
func (p *Peer) DHT() *dht.IpfsDHT { return p.dht }

// ID returns the peer's identity.
func (p *Peer) ID() peer.ID { return p.host.ID() }

// Addrs returns the addresses other peers can dial this one at, each ending
// in /p2p/<id>: the listen addresses with unspecified IPs (0.0.0.0, ::)
// expanded to the interface addresses, loopback included, plus any address
// the host learned (observed or announced). Sorted, no duplicates.
func (p *Peer) Addrs() []multiaddr.Multiaddr {
	var raw []multiaddr.Multiaddr
	if ifaddrs, err := p.host.Network().InterfaceListenAddresses(); err == nil {
		raw = append(raw, ifaddrs...)
	}
	raw = append(raw, p.host.Addrs()...)
	suffix, err := multiaddr.NewComponent("p2p", p.host.ID().String())
	if err != nil {
		return nil
	}
	seen := make(map[string]bool)
	var out []multiaddr.Multiaddr
	for _, a := range raw {
		if manet.IsIPUnspecified(a) {
			continue
		}
		full := a.Encapsulate(suffix.Multiaddr())
		if k := full.String(); !seen[k] {
			seen[k] = true
			out = append(out, full)
		}
	}
	slices.SortFunc(out, func(a, b multiaddr.Multiaddr) int { return cmp.Compare(a.String(), b.String()) })
	return out
}

// member reports whether id is known (from identify) to be a grapevine
// peer of this network: it speaks this network's DHT or sync protocol.
// A connected libp2p peer that speaks neither (a peer of another network
// about to be disconnected, a client that only uses the DHT or GossipSub,
// a peer not yet identified) is not a member.
func (p *Peer) member(id peer.ID) bool {
	ok, err := p.host.Peerstore().SupportsProtocols(id, p.dhtProto, p.syncProto)
	return err == nil && len(ok) > 0
}

// Peers returns the connected grapevine peers of this network (see
// Config.Network), sorted by ID; other libp2p peers that happen to be
// connected are left out.
func (p *Peer) Peers() []Info {
	ids := slices.DeleteFunc(p.host.Network().Peers(), func(id peer.ID) bool { return !p.member(id) })
	slices.Sort(ids)
	out := make([]Info, 0, len(ids))
	for _, id := range ids {
		info := Info{ID: id, Latency: p.host.Peerstore().LatencyEWMA(id)}
		for _, c := range p.host.Network().ConnsToPeer(id) {
			info.Addrs = append(info.Addrs, c.RemoteMultiaddr())
			if opened := c.Stat().Opened; info.ConnectedSince.IsZero() || opened.Before(info.ConnectedSince) {
				info.ConnectedSince = opened
			}
		}
		if len(info.Addrs) == 0 {
			continue // disconnected meanwhile
		}
		out = append(out, info)
	}
	return out
}

// Notify registers fn to be called with the ID of every peer of this
// network that connects after Start, once identify has shown that it speaks
// this network's protocols (peers of other networks and other libp2p peers
// are never reported); register before Start to see every peer. Calls are made one at a time from a goroutine of
// the Peer, never while it holds a lock, in connection order; a peer that
// connects again while its earlier call is still queued is reported once.
// fn should return quickly (hand the work to its own goroutine); a slow fn
// delays later notifications but never blocks the host. Close waits for a
// call in progress, so fn must not wait for Close.
func (p *Peer) Notify(fn func(peer.ID)) {
	if fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.notify = append(p.mu.notify, fn)
}

// Close stops the discovery loops and mDNS, saves the known peers, and
// closes the DHT and (unless built by NewWithHost) the host. It is
// idempotent; later calls return the first call's result.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.mu.closed = true
		svc := p.mu.mdns
		p.mu.mdns = nil
		p.mu.Unlock()

		p.cancel()
		var errs []error
		if svc != nil {
			if err := svc.Close(); err != nil {
				errs = append(errs, fmt.Errorf("peer: mdns: %w", err))
			}
		}
		p.wg.Wait()
		if err := p.saveKnown(); err != nil {
			errs = append(errs, err)
		}
		if err := p.dht.Close(); err != nil {
			errs = append(errs, fmt.Errorf("peer: dht: %w", err))
		}
		if p.ownsHost {
			if err := p.host.Close(); err != nil {
				errs = append(errs, fmt.Errorf("peer: host: %w", err))
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// eventLoop records connected and identified peers, queues notifications and
// writes peers.json (debounced) until Close.
func (p *Peer) eventLoop(sub event.Subscription) {
	defer sub.Close()
	save := time.NewTimer(p.saveDelay)
	save.Stop()
	defer save.Stop()
	armed := false
	for {
		select {
		case <-p.ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			switch ev := e.(type) {
			case event.EvtPeerIdentificationCompleted:
				if !p.checkNetwork(ev.Peer, ev.Protocols) {
					break
				}
				p.onConnected(ev.Peer)
				if p.onIdentified(ev) && !armed {
					save.Reset(p.saveDelay)
					armed = true
				}
			case event.EvtPeerProtocolsUpdated:
				if protos, err := p.host.Peerstore().GetProtocols(ev.Peer); err == nil {
					p.checkNetwork(ev.Peer, protos)
				}
			}
		case <-save.C:
			armed = false
			if err := p.saveKnown(); err != nil {
				p.log.Warn("saving known peers", "err", err)
			}
		}
	}
}

// onConnected queues a notification about id.
func (p *Peer) onConnected(id peer.ID) {
	p.mu.Lock()
	if !slices.Contains(p.mu.pending, id) {
		p.mu.pending = append(p.mu.pending, id)
	}
	p.mu.Unlock()
	select {
	case p.wakeNotify <- struct{}{}:
	default:
	}
}

// checkNetwork looks at the protocols a peer speaks: it reports whether one
// of them is this network's, and disconnects, holds off, counts and logs a
// peer that speaks only grapevine protocols of other networks. A peer that
// speaks no grapevine protocol is left alone.
func (p *Peer) checkNetwork(id peer.ID, protos []protocol.ID) bool {
	if id == p.host.ID() {
		return false
	}
	other := ""
	for _, proto := range protos {
		n, ok := wire.ProtocolNetwork(string(proto))
		if !ok {
			continue
		}
		if n == p.cfg.Network {
			return true
		}
		other = cmp.Or(other, n)
	}
	if other != "" {
		p.refuseNetwork(id, other)
	}
	return false
}

// refuseNetwork disconnects id, a peer of network other, and refuses it for
// networkHoldOff; the first refusal is logged.
func (p *Peer) refuseNetwork(id peer.ID, other string) {
	if p.gater.holdOff(id, p.gater.now().Add(networkHoldOff)) {
		p.log.Info("refused peer of another network",
			"remote", id, "reason", RefusalNetwork, "hold_off", networkHoldOff,
			"detail", fmt.Sprintf("peer %s is on network %s, this peer on %s", id, other, p.cfg.Network))
	}
	// One refusal counted per connection: identification and the protocol
	// update that follows it both report the peer's protocols, and the
	// second finds it disconnected already.
	if p.host.Network().Connectedness(id) == network.Connected {
		p.gater.refusedNetwork.Add(1)
		_ = p.host.Network().ClosePeer(id)
	}
}

// onIdentified remembers a peer that speaks this network's DHT, with the
// addresses it listens on; it reports whether the known set changed.
func (p *Peer) onIdentified(ev event.EvtPeerIdentificationCompleted) bool {
	if ev.Peer == p.host.ID() || !slices.Contains(ev.Protocols, p.dhtProto) {
		return false
	}
	addrs := usableAddrs(ev.ListenAddrs)
	if len(addrs) == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.known[ev.Peer] = &knownPeer{addrs: addrs, lastSeen: time.Now()}
	trimKnownPeers(p.mu.known)
	return true
}

// saveKnown writes the known peers to peers.json.
func (p *Peer) saveKnown() error {
	p.mu.Lock()
	snapshot := make(map[peer.ID]*knownPeer, len(p.mu.known))
	for id, kp := range p.mu.known {
		snapshot[id] = &knownPeer{addrs: slices.Clone(kp.addrs), lastSeen: kp.lastSeen}
	}
	p.mu.Unlock()
	return saveKnownPeers(p.knownPath, snapshot)
}

// notifyLoop calls the Notify functions for queued peers until Close.
func (p *Peer) notifyLoop() {
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.wakeNotify:
		}
		for {
			p.mu.Lock()
			if len(p.mu.pending) == 0 || p.ctx.Err() != nil {
				p.mu.Unlock()
				break
			}
			id := p.mu.pending[0]
			p.mu.pending = p.mu.pending[1:]
			fns := slices.Clone(p.mu.notify)
			p.mu.Unlock()
			for _, fn := range fns {
				fn(id)
			}
		}
	}
}

// KnownPeers returns how many distinct peers this one expects to reach:
// its bootstrap list and the peers it remembers. A peer with none may well be
// alone on purpose; one with some but no connection is cut off.
func (p *Peer) KnownPeers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.mu.known)
	for _, b := range p.bootstrap {
		if _, ok := p.mu.known[b.ID]; !ok {
			n++
		}
	}
	return n
}
