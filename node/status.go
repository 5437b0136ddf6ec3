package node

import (
	"math"

	"github.com/grapevine-kv/grapevine/gossip"

	"github.com/grapevine-kv/grapevine/peer"
)

// Status describes a running node.
type Status struct {
	ID         string                     `json:"id"`
	Network    string                     `json:"network"`
	Addrs      []string                   `json:"addrs"`
	Peers      int                        `json:"peers"`
	Namespaces map[string]NamespaceStatus `json:"namespaces"`
}

// NamespaceStatus describes one namespace on this peer.
type NamespaceStatus struct {
	// Items counts stored states: registers (tombstones included) and counters.
	Items uint64 `json:"items"`
	// Sync is the anti-entropy progress of the namespace.
	Sync gossip.Progress `json:"sync"`
}

// Peers returns the connected peers, sorted by ID.
func (n *Node) Peers() []peer.Info { return n.peer.Peers() }

// Status returns a snapshot of the node's state.
func (n *Node) Status() Status {
	st := Status{
		ID:         n.peer.ID().String(),
		Network:    n.cfg.Network,
		Peers:      len(n.peer.Peers()),
		Namespaces: make(map[string]NamespaceStatus),
	}
	for _, a := range n.peer.Addrs() {
		st.Addrs = append(st.Addrs, a.String())
	}
	progress := n.syncer.Progress()
	for _, ns := range n.db.Namespaces() {
		st.Namespaces[ns] = NamespaceStatus{Items: n.db.Summarize(ns, 0, math.MaxUint64).Count, Sync: progress[ns]}
	}
	for ns, p := range progress {
		if _, ok := st.Namespaces[ns]; !ok {
			st.Namespaces[ns] = NamespaceStatus{Sync: p}
		}
	}
	return st
}
