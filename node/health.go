package node

import (
	"fmt"
	"os"
)

// Ready reports why the node should not get traffic yet, one reason a
// string, or nil when it should: the node is open, its storage directory
// takes a durable write, at least one peer is connected when it knows of
// any (a bootstrap list or remembered peers), and no namespace is being
// received for the first time (a bootstrap in progress). It writes and
// removes a small file in the database directory; safe for concurrent use.
func (n *Node) Ready() []string {
	if n.Err() != nil {
		return []string{"the node is shutting down"}
	}
	var reasons []string
	if err := n.probeDisk(); err != nil {
		reasons = append(reasons, "storage is not writable: "+err.Error())
	}
	if known := n.peer.KnownPeers(); known > 0 && len(n.peer.Peers()) == 0 {
		reasons = append(reasons, fmt.Sprintf("no peer connected (%d known)", known))
	}
	// Namespace names and peer IDs stay out: /readyz needs no API token.
	var spaces int
	var got, want uint64
	for _, p := range n.syncer.Progress() {
		if p.Syncing && p.Synced.IsZero() {
			spaces, got, want = spaces+1, got+p.KeysReceived, want+p.KeysEstimated
		}
	}
	if spaces > 0 {
		reasons = append(reasons, fmt.Sprintf("bootstrapping: receiving %d namespace(s) for the first time (%d of about %d keys)", spaces, got, want))
	}
	return reasons
}

// probeDisk writes, syncs and removes a file where the database lives (the
// data directory for an in-memory database).
func (n *Node) probeDisk() error {
	dir := n.cfg.DataDir
	if !n.cfg.Storage.InMemory {
		dir = DatabaseDir(dir)
	}
	f, err := os.CreateTemp(dir, ".ready-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write([]byte{1})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
