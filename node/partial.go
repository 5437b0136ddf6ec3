package node

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/libp2p/go-libp2p/core/network"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// Partial replication (Config.Namespaces). A peer replicates the
// namespaces its patterns match (wire.MatchNamespace, the one rule): it
// joins only their gossip topics, its sync hellos offer only them and say
// its patterns (a round reconciles what both sides replicate), and a state
// of another namespace — from gossip, a namespace announcement or a sync
// round — is ignored and counted (grapevine_ignored_states_total), never
// stored. Every namespace a peer holds is advertised in the DHT (a provider
// record, peer.NamespaceKey) every discovery interval; holders of a
// namespace look up each other's records and connect, so two holders of
// tenant-7 meet even if they share nothing else. A request for a namespace
// the peer does not replicate is forwarded to a holder (forward.go).

// holderLookupTimeout bounds one provide or holder lookup.
const holderLookupTimeout = 30 * time.Second

// maxHolders is how many holders of a namespace a lookup asks for.
const maxHolders = 8

// replicates reports whether this peer replicates namespace ns.
func (n *Node) replicates(ns string) bool { return wire.MatchNamespace(n.cfg.Namespaces, ns) }

// held returns the namespaces this peer holds: those it stores that it
// replicates, and every literal pattern (held before its first write).
func (n *Node) held() []string {
	var out []string
	for _, p := range n.cfg.Namespaces {
		if wire.IsLiteralPattern(p) {
			out = append(out, p)
		}
	}
	for _, ns := range n.db.Namespaces() {
		if n.replicates(ns) {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// holdersLoop advertises every held namespace in the DHT and connects to
// its other holders, at once and then every jittered discovery interval,
// until Close. A namespace the node starts replicating (join: its first
// write, gossip or sync round) is advertised at once, not at the next
// round. A round in which a namespace could not be advertised (the
// routing table is still empty at start) is retried sooner, backing off
// from holderRetry up to the interval.
func (n *Node) holdersLoop() {
	defer n.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	advertised := make(map[string]bool) // since the last periodic round
	failed := make(map[string]bool)     // in the last round, retried sooner
	retry := holderRetry
	for {
		var due []string
		periodic := false
		select {
		case <-n.ctx.Done():
			return
		case <-timer.C:
			periodic = true
			if len(failed) > 0 {
				due = slices.Sorted(maps.Keys(failed))
			} else {
				due = n.held()
				clear(advertised)
			}
		case <-n.joinedC:
		}
		due = append(due, n.newlyJoined(advertised)...)
		for _, ns := range due {
			if n.ctx.Err() != nil {
				return
			}
			advertised[ns] = true
			if n.advertise(ns) {
				delete(failed, ns)
			} else {
				failed[ns] = true
			}
		}
		switch {
		case len(failed) > 0:
			timer.Reset(min(retry, n.cfg.Peer.DiscoveryInterval))
			retry = min(2*retry, n.cfg.Peer.DiscoveryInterval)
		case periodic:
			retry = holderRetry
			timer.Reset(n.peer.Jittered(n.cfg.Peer.DiscoveryInterval))
		}
	}
}

// holderRetry is the first retry of a holders round that could not
// advertise a namespace.
const holderRetry = 250 * time.Millisecond

// newlyJoined returns the namespaces joined (join) and not in advertised.
func (n *Node) newlyJoined(advertised map[string]bool) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for ns := range n.mu.joined {
		if !advertised[ns] {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}

// advertise provides ns in the DHT and connects to its other holders. It
// reports whether the provider record went out.
func (n *Node) advertise(ns string) bool {
	ctx, cancel := context.WithTimeout(n.ctx, holderLookupTimeout)
	defer cancel()
	err := n.peer.Provide(ctx, ns)
	if err != nil {
		n.log.Debug("advertising a namespace", "namespace", ns, "err", err)
	}
	var holders []libp2ppeer.AddrInfo
	if !n.holderHooks.skipLookup.Load() {
		holders = n.peer.FindHolders(ctx, ns, maxHolders)
	}
	if found := n.peer.ConnectHolders(ctx, n.enoughHolders(holders)); found > 0 {
		n.log.Debug("connected to holders", "namespace", ns, "new", found)
	}
	if err == nil {
		n.holderHooks.advertised(ns)
	}
	return err == nil
}

// holderHooks is the holders loop's state that exists for tests only
// (testhooks.go: SkipHolderLookupForTest, AdvertisedForTest). Its zero
// value is ready.
type holderHooks struct {
	skipLookup atomic.Bool // advertise without looking up other holders
	mu         sync.Mutex
	count      map[string]int // namespace → advertisements that went out
}

// advertised counts one advertisement of ns that went out.
func (h *holderHooks) advertised(ns string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count == nil {
		h.count = make(map[string]int)
	}
	h.count[ns]++
}

// holderTarget is how many holders of a namespace a peer keeps connections
// to: enough for a GossipSub mesh and anti-entropy partners.
const holderTarget = 6

// enoughHolders returns the holders in found that are connected, and as
// many unconnected ones after them as bring the connections to
// holderTarget: without the bound, every round would add up to maxHolders
// connections, and in a large network where every peer holds a namespace
// each peer would end up connected to nearly all of them.
func (n *Node) enoughHolders(found []libp2ppeer.AddrInfo) []libp2ppeer.AddrInfo {
	var connected, others []libp2ppeer.AddrInfo
	for _, info := range found {
		if n.peer.Host().Network().Connectedness(info.ID) == network.Connected {
			connected = append(connected, info)
		} else {
			others = append(others, info)
		}
	}
	return append(connected, others[:min(len(others), max(0, holderTarget-len(connected)))]...)
}
