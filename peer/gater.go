package peer

import (
	"context"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// gater is the host's connection gater: a block list of peer IDs plus an
// "isolated" switch that refuses every peer. Fault-injection tests use it to
// cut a peer off from others without touching the operating system's
// network (see Peer.Block). Safe for concurrent use.
type gater struct {
	mu struct {
		sync.RWMutex
		blocked  map[peer.ID]bool
		isolated bool
	}
}

var _ connmgr.ConnectionGater = (*gater)(nil)

func newGater() *gater {
	g := &gater{}
	g.mu.blocked = make(map[peer.ID]bool)
	return g
}

// allowed reports whether connections to or from id may exist.
func (g *gater) allowed(id peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return !g.mu.isolated && !g.mu.blocked[id]
}

// InterceptPeerDial refuses dials to blocked peers.
func (g *gater) InterceptPeerDial(id peer.ID) bool { return g.allowed(id) }

// InterceptAddrDial refuses dials to blocked peers.
func (g *gater) InterceptAddrDial(id peer.ID, _ multiaddr.Multiaddr) bool { return g.allowed(id) }

// InterceptAccept allows every inbound connection: the remote peer is not
// known before the security handshake (InterceptSecured decides).
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses connections with blocked peers in either
// direction.
func (g *gater) InterceptSecured(_ network.Direction, id peer.ID, _ network.ConnMultiaddrs) bool {
	return g.allowed(id)
}

// InterceptUpgraded refuses a connection whose peer was blocked during the
// upgrade.
func (g *gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return g.allowed(c.RemotePeer()), 0
}

// Block refuses connections with ids (in both directions) from now on and
// closes the open ones. Meant for tests that partition peers. The host of a
// peer built by NewWithHost does not consult the block list, so there only
// the open connections are closed.
func (p *Peer) Block(ids ...peer.ID) {
	p.gater.mu.Lock()
	for _, id := range ids {
		p.gater.mu.blocked[id] = true
	}
	p.gater.mu.Unlock()
	for _, id := range ids {
		_ = p.host.Network().ClosePeer(id)
	}
}

// Unblock allows connections with ids again. It does not dial them; see
// Redial.
func (p *Peer) Unblock(ids ...peer.ID) {
	p.gater.mu.Lock()
	defer p.gater.mu.Unlock()
	for _, id := range ids {
		delete(p.gater.mu.blocked, id)
	}
}

// UnblockAll empties the block list and ends isolation.
func (p *Peer) UnblockAll() {
	p.gater.mu.Lock()
	defer p.gater.mu.Unlock()
	clear(p.gater.mu.blocked)
	p.gater.mu.isolated = false
}

// Blocked returns the blocked peer IDs, sorted.
func (p *Peer) Blocked() []peer.ID {
	p.gater.mu.RLock()
	defer p.gater.mu.RUnlock()
	out := make([]peer.ID, 0, len(p.gater.mu.blocked))
	for id := range p.gater.mu.blocked {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Isolate, when on, refuses connections with every peer (blocked or not) and
// closes the open ones; off restores the block list's verdicts. Tests start
// a restarted peer isolated to read its own durable state before it syncs.
func (p *Peer) Isolate(on bool) {
	p.gater.mu.Lock()
	p.gater.mu.isolated = on
	p.gater.mu.Unlock()
	if on {
		for _, id := range p.host.Network().Peers() {
			_ = p.host.Network().ClosePeer(id)
		}
	}
}

// Isolated reports whether Isolate(true) is in force.
func (p *Peer) Isolated() bool {
	p.gater.mu.RLock()
	defer p.gater.mu.RUnlock()
	return p.gater.mu.isolated
}

// Redial dials the bootstrap and remembered peers that are not connected,
// now rather than at the next discovery round, and returns how many it
// reached. It blocks until the dials finish or ctx is done.
func (p *Peer) Redial(ctx context.Context) int {
	return p.dialAll(ctx, append(slices.Clone(p.bootstrap), p.knownInfos()...))
}
