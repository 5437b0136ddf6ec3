package peer

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// Bounds on the remembered peers, so peers.json stays small however long a
// peer runs.
const (
	maxKnownPeers   = 256
	maxAddrsPerPeer = 16
	knownPeersV1    = 1
)

// knownPeer is a peer that once completed identify with us and speaks the
// grapevine DHT protocol.
type knownPeer struct {
	addrs    []multiaddr.Multiaddr
	lastSeen time.Time
}

// knownPeersJSON is the on-disk form of peers.json.
type knownPeersJSON struct {
	Version int             `json:"version"`
	Peers   []knownPeerJSON `json:"peers"`
}

type knownPeerJSON struct {
	ID       string    `json:"id"`
	Addrs    []string  `json:"addrs"`
	LastSeen time.Time `json:"last_seen"`
}

// loadKnownPeers reads path. A missing file is an empty set; unparsable
// entries are skipped; a file that is not JSON at all is an error (the caller
// logs it and starts with an empty set).
func loadKnownPeers(path string, self peer.ID) (map[peer.ID]*knownPeer, error) {
	out := make(map[peer.ID]*knownPeer)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("peer: known peers: %w", err)
	}
	var f knownPeersJSON
	if err := json.Unmarshal(raw, &f); err != nil {
		return out, fmt.Errorf("peer: known peers %s: %w", path, err)
	}
	if f.Version != knownPeersV1 {
		return out, fmt.Errorf("peer: known peers %s: unknown version %d", path, f.Version)
	}
	for _, e := range f.Peers {
		id, err := peer.Decode(e.ID)
		if err != nil || id == self {
			continue
		}
		kp := &knownPeer{lastSeen: e.LastSeen}
		for _, s := range e.Addrs {
			if a, err := multiaddr.NewMultiaddr(s); err == nil && len(kp.addrs) < maxAddrsPerPeer {
				kp.addrs = append(kp.addrs, a)
			}
		}
		if len(kp.addrs) > 0 {
			out[id] = kp
		}
	}
	trimKnownPeers(out)
	return out, nil
}

// trimKnownPeers drops the least recently seen peers beyond maxKnownPeers.
func trimKnownPeers(m map[peer.ID]*knownPeer) {
	if len(m) <= maxKnownPeers {
		return
	}
	for _, id := range sortedKnown(m)[maxKnownPeers:] {
		delete(m, id)
	}
}

// sortedKnown returns the IDs in m, most recently seen first (ties by ID).
func sortedKnown(m map[peer.ID]*knownPeer) []peer.ID {
	ids := make([]peer.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b peer.ID) int {
		if c := m[b].lastSeen.Compare(m[a].lastSeen); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return ids
}

// saveKnownPeers writes m to path atomically (temporary file, fsync, rename)
// with mode 0600.
func saveKnownPeers(path string, m map[peer.ID]*knownPeer) error {
	f := knownPeersJSON{Version: knownPeersV1, Peers: []knownPeerJSON{}}
	for _, id := range sortedKnown(m) {
		kp := m[id]
		e := knownPeerJSON{ID: id.String(), LastSeen: kp.lastSeen.UTC()}
		for _, a := range kp.addrs {
			e.Addrs = append(e.Addrs, a.String())
		}
		f.Peers = append(f.Peers, e)
	}
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("peer: known peers: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, knownPeersFile+".tmp*")
	if err != nil {
		return fmt.Errorf("peer: known peers: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(append(raw, '\n'))
	if werr == nil {
		werr = tmp.Chmod(0o600)
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("peer: known peers: %w", werr)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("peer: known peers: %w", err)
	}
	syncDir(dir)
	return nil
}

// usableAddrs keeps the direct TCP and QUIC addresses of addrs (the only
// transports a grapevine peer dials), at most maxAddrsPerPeer of them.
func usableAddrs(addrs []multiaddr.Multiaddr) []multiaddr.Multiaddr {
	var out []multiaddr.Multiaddr
	for _, a := range addrs {
		if len(out) == maxAddrsPerPeer {
			break
		}
		if isTCP(a) || isQUIC(a) {
			out = append(out, a)
		}
	}
	return out
}
