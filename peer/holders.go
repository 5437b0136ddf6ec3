package peer

import (
	"context"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// holderTag protects the connections to peers holding a namespace this
// peer holds from the connection manager's trimming.
const holderTag = "grapevine-holder"

// Rendezvous returns the name under which every peer of network
// advertises itself in the DHT and looks up the others (discovery.go):
// "grapevine/<network>".
func Rendezvous(network string) string { return "grapevine/" + network }

// NamespaceKey returns the DHT key under which the holders of namespace ns
// of network advertise it: a CID of the SHA2-256 multihash of
// "grapevine/<network>/ns/<ns>".
func NamespaceKey(network, ns string) (cid.Cid, error) {
	h, err := mh.Sum([]byte(Rendezvous(network)+"/ns/"+ns), mh.SHA2_256, -1)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(cid.Raw, h), nil
}

// Provide advertises in the DHT that this peer holds namespace ns (a
// provider record under NamespaceKey). It blocks until the record is
// stored on the closest peers or ctx ends; it fails while the routing
// table is empty. Records expire: call it again every discovery interval.
func (p *Peer) Provide(ctx context.Context, ns string) error {
	key, err := NamespaceKey(p.cfg.Network, ns)
	if err != nil {
		return err
	}
	p.lookups.Inc()
	return p.dht.Provide(ctx, key, true)
}

// FindHolders returns up to limit peers other than this one that
// advertise namespace ns in the DHT. It blocks until the lookup ends or
// ctx does.
func (p *Peer) FindHolders(ctx context.Context, ns string, limit int) []peer.AddrInfo {
	key, err := NamespaceKey(p.cfg.Network, ns)
	if err != nil {
		return nil
	}
	p.lookups.Inc()
	var out []peer.AddrInfo
	for info := range p.dht.FindProvidersAsync(ctx, key, limit+1) {
		if info.ID != p.host.ID() && len(out) < limit {
			out = append(out, info)
		}
	}
	return out
}

// ConnectHolders connects to the holders in infos not yet connected,
// whatever the connection count (they share a namespace with this peer),
// and protects every connection to them from trimming. It returns how many
// it newly connected.
func (p *Peer) ConnectHolders(ctx context.Context, infos []peer.AddrInfo) int {
	n := 0
	for _, info := range infos {
		if info.ID == p.host.ID() {
			continue
		}
		if p.host.Network().Connectedness(info.ID) != network.Connected {
			if !p.dial(ctx, info) {
				continue
			}
			n++
		}
		p.host.ConnManager().Protect(info.ID, holderTag)
	}
	return n
}
