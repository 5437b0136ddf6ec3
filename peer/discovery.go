package peer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// discoveryLoop runs a discovery round at once and then every jittered
// DiscoveryInterval until Close. A round that could not use the DHT (no peer
// in the routing table yet, or the lookup failed) is retried sooner, backing
// off from minRetry up to the interval. While the peer has enough
// connections (wantPeers is false) rounds come satisfiedBackoff times less
// often, so that a large network does not make the DHT keys near the
// rendezvous a hotspot.
func (p *Peer) discoveryLoop() {
	retry := minRetry
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-timer.C:
		}
		next := p.nextRound()
		if !p.discoverOnce(p.ctx) {
			next = min(retry, next)
			retry = min(2*retry, p.cfg.DiscoveryInterval)
		} else {
			retry = minRetry
		}
		timer.Reset(next)
	}
}

// nextRound returns the time to the next discovery round: a jittered
// DiscoveryInterval, satisfiedBackoff times longer while the peer has
// enough connections.
func (p *Peer) nextRound() time.Duration {
	if !p.wantPeers() {
		return p.Jittered(satisfiedBackoff * p.cfg.DiscoveryInterval)
	}
	return p.Jittered(p.cfg.DiscoveryInterval)
}

// Jittered returns d scaled by a random factor in [0.8, 1.2) (±jitterFraction),
// drawn from the peer's own generator, seeded from its ID: the one jitter of
// the peer's periodic work (discovery rounds, the node's holder
// advertisements), so that peers started together spread out. It is safe
// for concurrent use.
func (p *Peer) Jittered(d time.Duration) time.Duration {
	p.jitter.Lock()
	f := 1 - jitterFraction + 2*jitterFraction*p.jitter.rng.Float64()
	p.jitter.Unlock()
	return time.Duration(float64(d) * f)
}

// satisfiedBackoff is how many discovery intervals apart the rounds of a
// peer with enough connections are.
const satisfiedBackoff = 4

// discoverOnce redials bootstrap and recently seen known peers that are not
// connected (while below the low watermark), advertises the rendezvous and,
// while below the low watermark, looks it up and dials the peers found
// under it. It reports whether the DHT part succeeded.
func (p *Peer) discoverOnce(ctx context.Context) bool {
	if p.wantPeers() {
		p.dialAll(ctx, p.fallbackPeers())
	}
	if p.dht.RoutingTable().Size() == 0 {
		return false
	}
	ok := true
	p.lookups.Inc()
	actx, cancel := context.WithTimeout(ctx, lookupTimeout)
	if _, err := p.disc.Advertise(actx, p.rendezvous); err != nil {
		p.log.Debug("rendezvous advertise", "ns", p.rendezvous, "err", err)
		ok = false
	}
	cancel()
	if ctx.Err() != nil {
		return false
	}
	if !p.wantPeers() {
		return ok
	}
	p.lookups.Inc()
	fctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	ch, err := p.disc.FindPeers(fctx, p.rendezvous, discovery.Limit(findLimit))
	if err != nil {
		p.log.Debug("rendezvous lookup", "ns", p.rendezvous, "err", err)
		return false
	}
	var infos []peer.AddrInfo
	for info := range ch {
		infos = append(infos, info)
	}
	if p.wantPeers() {
		if n := p.dialAll(ctx, infos); n > 0 {
			p.log.Debug("connected to rendezvous peers", "ns", p.rendezvous, "found", len(infos), "connected", n)
		}
	}
	return ok
}

// wantPeers reports whether the peer has fewer connections than the
// connection manager's low watermark, so dialling more is useful.
func (p *Peer) wantPeers() bool {
	return len(p.host.Network().Peers()) < max(p.cfg.LowWater, 1)
}

// dialAll connects to the peers in infos, in order, that are not self, not
// connected and have addresses, at most maxParallelDials at a time, each
// within dialTimeout and all within dialBatchTimeout; it stops starting dials
// once the peer has LowWater connections. It returns when all attempts are
// done and reports how many succeeded.
func (p *Peer) dialAll(ctx context.Context, infos []peer.AddrInfo) int {
	ctx, cancel := context.WithTimeout(ctx, dialBatchTimeout)
	defer cancel()
	sem := make(chan struct{}, maxParallelDials)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	seen := make(map[peer.ID]bool)
	for _, info := range infos {
		if info.ID == p.host.ID() || seen[info.ID] || len(info.Addrs) == 0 ||
			p.host.Network().Connectedness(info.ID) == network.Connected {
			continue
		}
		seen[info.ID] = true
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || !p.wantPeers() {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if p.dial(ctx, info) {
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return n
}

// dial connects to one peer within dialTimeout.
func (p *Peer) dial(ctx context.Context, info peer.AddrInfo) bool {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := p.host.Connect(ctx, info); err != nil {
		p.log.Debug("dial failed", "to", info.ID.ShortString(), "err", err)
		return false
	}
	return true
}

// mdnsNotifee hands mDNS finds to mdnsLoop without blocking (the mdns
// package calls it from goroutines it does not wait for).
type mdnsNotifee struct{ p *Peer }

// HandlePeerFound queues info for dialling, dropping it if the queue is full
// (the peer is announced again).
func (n mdnsNotifee) HandlePeerFound(info peer.AddrInfo) {
	select {
	case n.p.found <- info:
	default:
	}
}

// mdnsLoop dials the peers mDNS finds until Close.
func (p *Peer) mdnsLoop() {
	for {
		select {
		case <-p.ctx.Done():
			return
		case info := <-p.found:
			if p.wantPeers() {
				if p.dialAll(p.ctx, []peer.AddrInfo{info}) > 0 {
					p.log.Debug("connected to mDNS peer", "to", info.ID.ShortString())
				}
			}
		}
	}
}

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// mdnsServiceName derives the mDNS service name from the network name, so
// peers of different networks on one LAN do not find each other:
// "_grapevine-<network>._udp" when the name is a lower-case DNS label, else
// "_grapevine-<first 16 hex digits of sha256(network)>._udp".
func mdnsServiceName(network string) string {
	label := "grapevine-" + network
	if !dnsLabelRE.MatchString(network) || len(label) > 63 || strings.HasSuffix(network, "-") {
		sum := sha256.Sum256([]byte(network))
		label = "grapevine-" + hex.EncodeToString(sum[:8])
	}
	return "_" + label + "._udp"
}
