package peer

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

func genID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestKnownPeersRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), knownPeersFile)
	self, x, y := genID(t), genID(t), genID(t)
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m := map[peer.ID]*knownPeer{
		x:    {addrs: []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/1")}, lastSeen: t0},
		y:    {addrs: []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/udp/2/quic-v1")}, lastSeen: t0.Add(time.Hour)},
		self: {addrs: []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/3")}, lastSeen: t0},
	}
	if err := saveKnownPeers(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := loadKnownPeers(path, self)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[self] != nil {
		t.Fatalf("loaded %d peers (self dropped?): %v", len(got), got)
	}
	for _, id := range []peer.ID{x, y} {
		if !got[id].lastSeen.Equal(m[id].lastSeen) || !got[id].addrs[0].Equal(m[id].addrs[0]) {
			t.Errorf("peer %s: got %+v, want %+v", id, got[id], m[id])
		}
	}
	if order := sortedKnown(got); order[0] != y {
		t.Errorf("most recently seen first: got %v", order)
	}
}

func TestKnownPeersMissingAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, knownPeersFile)
	if m, err := loadKnownPeers(path, ""); err != nil || len(m) != 0 {
		t.Fatalf("missing file: %v, %v", m, err)
	}
	for _, body := range []string{"{", `{"version": 9, "peers": []}`} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if m, err := loadKnownPeers(path, ""); err == nil || m == nil || len(m) != 0 {
			t.Errorf("file %q: %v, %v; want an error and an empty usable set", body, m, err)
		}
	}
	// A peer still starts over an unreadable file, and replaces it on Close.
	p, err := New(t.Context(), testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := loadKnownPeers(path, ""); err != nil {
		t.Errorf("after Close: %v", err)
	}
	// Bad entries are skipped, good ones kept.
	id := genID(t)
	body := `{"version":1,"peers":[{"id":"bad","addrs":["/ip4/127.0.0.1/tcp/1"]},` +
		`{"id":"` + id.String() + `","addrs":["garbage","/ip4/127.0.0.1/tcp/1"]},` +
		`{"id":"` + genID(t).String() + `","addrs":[]}]}`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := loadKnownPeers(path, "")
	if err != nil || len(m) != 1 || len(m[id].addrs) != 1 {
		t.Errorf("mixed file: %v, %v; want only %s with one address", m, err, id)
	}
}

func TestKnownPeersTrimmed(t *testing.T) {
	m := make(map[peer.ID]*knownPeer)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var newest peer.ID
	for i := range maxKnownPeers + 10 {
		id := peer.ID(fmt.Sprintf("peer-%04d", i)) // trimming never decodes IDs
		m[id] = &knownPeer{lastSeen: t0.Add(time.Duration(i) * time.Minute)}
		newest = id
	}
	trimKnownPeers(m)
	if len(m) != maxKnownPeers || m[newest] == nil {
		t.Fatalf("trimmed to %d peers (newest kept: %v), want %d", len(m), m[newest] != nil, maxKnownPeers)
	}
	for _, kp := range m {
		if kp.lastSeen.Before(t0.Add(10 * time.Minute)) {
			t.Fatalf("kept a peer last seen at %v, older than the ones dropped", kp.lastSeen)
		}
	}
}

func TestUsableAddrs(t *testing.T) {
	in := []multiaddr.Multiaddr{
		multiaddr.StringCast("/ip4/127.0.0.1/tcp/1"),
		multiaddr.StringCast("/ip4/127.0.0.1/tcp/1/ws"),
		multiaddr.StringCast("/ip6/::1/udp/2/quic-v1"),
		multiaddr.StringCast("/ip4/127.0.0.1/udp/2/quic-v1/webtransport"),
	}
	got := usableAddrs(in)
	if len(got) != 2 || !got[0].Equal(in[0]) || !got[1].Equal(in[2]) {
		t.Errorf("usableAddrs = %v", got)
	}
}
