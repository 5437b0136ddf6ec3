// Package node composes storage, gossip and the libp2p peer into a Node:
// grapevine's embeddable Go API.
//
// Build a Node with New from a Config (start from DefaultConfig, which
// composes the defaults of storage, peer and gossip), then Start it; Close
// stops it. Its methods:
//
//   - Put, Get, Delete, List: registers (last writer wins) by key, in a
//     namespace ("" is DefaultNamespace);
//   - Incr, Counter: counters that add up exactly across peers;
//   - Watch: a stream of changes under a prefix;
//   - Sync, SyncWith: an anti-entropy round now;
//   - Peers, Status, Metrics, Ready, ID, Peer: what an operator looks at
//     (Ready: whether to send it traffic, and if not why);
//   - Err: whether the node is closed.
//
// Every error a method returns is one of the sentinels in errors.go (or
// wraps one), whatever layer it came from; after Close every method returns
// ErrClosed.
//
// Every write, local or remote, goes through one apply loop. Each round it
// takes everything queued (up to a size bound), commits it in one storage
// transaction — one fsync for many writers — then notifies watchers,
// acknowledges the local writers and publishes the changes as gossip.
package node
