// Package peer is the libp2p host of a grapevine peer: a persisted Ed25519
// identity, TCP and QUIC listeners, a Kademlia DHT in server mode under the
// private protocol prefix "/grapevine" (never the public IPFS DHT), bootstrap
// from a list of multiaddrs, rendezvous discovery of "grapevine/<network>"
// through the DHT, mDNS discovery on the local network, a connection manager,
// an optional private-network key, and a list of known peers remembered
// across restarts (peers.json in the data directory) so that a restarted peer
// rejoins its network without a bootstrap list.
//
// Lifecycle: New builds the host and the DHT but dials no one and starts no
// discovery; Start connects to the bootstrap and remembered peers, bootstraps
// the DHT and starts the discovery loops; Close stops everything the Peer
// started, saves the known peers and is idempotent. NewWithHost builds a Peer
// over a host the caller owns (a go-libp2p mocknet host in tests): Close then
// leaves that host open.
package peer
