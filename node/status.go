package node

import (
	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/storage"

	"github.com/grapevine-kv/grapevine/peer"
)

// Status describes a running node.
type Status struct {
	ID         string                     `json:"id"`
	Network    string                     `json:"network"`
	Addrs      []string                   `json:"addrs"`
	Peers      int                        `json:"peers"`
	Namespaces map[string]NamespaceStatus `json:"namespaces"`
	// Replicates are the patterns of the namespaces this peer replicates
	// (Config.Namespaces); Holds the namespaces it holds and advertises;
	// Forwards those it has forwarded requests for (held elsewhere).
	Replicates []string `json:"replicates"`
	Holds      []string `json:"holds"`
	Forwards   []string `json:"forwards,omitempty"`
	// Applied counts the deltas that changed stored state since the node
	// started (grapevine_applied_deltas_total): a rate of it is writes/s.
	Applied Applied `json:"applied"`
	// Recovered is set if this node found its database damaged at start
	// and replaced it by an empty one (Config.QuarantineDamaged); nil
	// otherwise.
	Recovered *Recovery `json:"recovered,omitempty"`
}

// Applied counts deltas that changed stored state, by source.
type Applied struct {
	Local  uint64 `json:"local"`  // this peer's writes
	Remote uint64 `json:"remote"` // received by gossip or anti-entropy
}

// NamespaceStatus describes one namespace on this peer.
type NamespaceStatus struct {
	// Items counts live keys: registers holding a value, and counters.
	Items uint64 `json:"items"`
	// Tombstones counts deleted registers whose tombstone is not purged yet.
	Tombstones uint64 `json:"tombstones"`
	// Bytes is the approximate size of the namespace's stored states, keys
	// and values (storage.Counts.Bytes).
	Bytes uint64 `json:"bytes"`
	// Sync is the anti-entropy progress of the namespace.
	Sync gossip.Progress `json:"sync"`
	// Rounds sums up the namespace's anti-entropy rounds: the last one
	// (with whom, when), the last clean one, bytes sent and received.
	Rounds RoundHistory `json:"rounds"`
}

// Peers returns the connected peers, sorted by ID.
func (n *Node) Peers() []peer.Info { return n.peer.Peers() }

// Status returns a snapshot of the node's state. It counts the stored
// states (storage.DB.Count: one pass over the keys of the indexes); if
// that fails, the counts are missing and the failure is logged.
func (n *Node) Status() Status {
	st := Status{
		ID:         n.selfName,
		Network:    n.cfg.Network,
		Peers:      len(n.peer.Peers()),
		Namespaces: make(map[string]NamespaceStatus),
		Replicates: n.cfg.Namespaces,
		Holds:      n.held(),
		Forwards:   n.fwd.forwarded(),
		Applied:    Applied{Local: n.m.totals.local.Load(), Remote: n.m.totals.remote.Load()},
	}
	if r := n.recovered; r != nil {
		c := *r
		st.Recovered = &c
	}
	for _, a := range n.peer.Addrs() {
		st.Addrs = append(st.Addrs, a.String())
	}
	progress, history := n.syncer.Progress(), n.rounds.history()
	for ns, c := range n.cachedCounts(0) {
		live, tombs := liveItems(c)
		st.Namespaces[ns] = NamespaceStatus{Items: live, Tombstones: tombs, Bytes: c.Bytes, Sync: progress[ns], Rounds: history[ns]}
	}
	for ns, p := range progress {
		if _, ok := st.Namespaces[ns]; !ok {
			st.Namespaces[ns] = NamespaceStatus{Sync: p, Rounds: history[ns]}
		}
	}
	return st
}

// counts returns the stored states per namespace, or nil (logged) if the
// database could not be read.
func (n *Node) counts() map[string]storage.Counts {
	c, err := n.db.Count()
	if err != nil && n.Err() == nil {
		n.log.Error("counting stored states", "err", err)
	}
	return c
}

// liveItems returns a namespace's live items (every state but tombstones)
// and its tombstones.
func liveItems(c storage.Counts) (live, tombstones uint64) {
	for _, k := range liveByType(c) {
		live += k
	}
	return live, c.Tombstones
}

// liveByType returns a namespace's live states by type (tombstones are not
// counted under crdt.TypeRegister).
func liveByType(c storage.Counts) map[crdt.Type]uint64 {
	out := make(map[crdt.Type]uint64, len(c.ByType))
	for t, k := range c.ByType {
		if t == crdt.TypeRegister {
			k -= c.Tombstones
		}
		out[t] = k
	}
	return out
}
