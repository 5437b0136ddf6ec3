// Package node composes storage, gossip and the libp2p peer into a Node:
// grapevine's embeddable Go API (Put, Get, Delete, List, Incr, Peers,
// Status).
//
// Every write, local or remote, goes through one apply loop. Each round it
// takes everything queued (up to a size bound), commits it in one storage
// transaction — one fsync for many writers — then acknowledges the local
// writers and publishes the changes as gossip.
package node
