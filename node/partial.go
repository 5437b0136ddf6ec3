package node

import (
	"context"
	"slices"
	"time"

	"github.com/grapevine-kv/grapevine/internal/wire"
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
// until Close.
func (n *Node) holdersLoop() {
	defer n.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-timer.C:
		}
		for _, ns := range n.held() {
			if n.ctx.Err() != nil {
				return
			}
			n.advertise(ns)
		}
		timer.Reset(n.peer.Jittered(n.cfg.Peer.DiscoveryInterval))
	}
}

// advertise provides ns in the DHT and connects to its other holders.
func (n *Node) advertise(ns string) {
	ctx, cancel := context.WithTimeout(n.ctx, holderLookupTimeout)
	defer cancel()
	if err := n.peer.Provide(ctx, ns); err != nil {
		n.log.Debug("advertising a namespace", "namespace", ns, "err", err)
	}
	if found := n.peer.ConnectHolders(ctx, n.peer.FindHolders(ctx, ns, maxHolders)); found > 0 {
		n.log.Debug("connected to holders", "namespace", ns, "new", found)
	}
}
