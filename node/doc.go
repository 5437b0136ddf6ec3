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
//   - Watch, WatchSince, LastIndex: a stream of changes under a prefix,
//     resumable from a change index;
//   - Sync, SyncWith: an anti-entropy round now;
//   - Peers, Status, Metrics, ID, Peer: what an operator looks at;
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
//
// Every change committed on a peer gets that peer's next change index (a
// durable, monotonic sequence kept by storage with its change log), and
// every Event carries it. WatchSince(since) replays, for each key changed
// after since and still in the log, its current state, then continues
// live without a gap (at least once; a key's last event is its current
// state). An index older than the retained log, or one of another peer,
// gets ErrCompacted: read the keys again and watch since LastIndex taken
// before the read. A watcher more than WatchBuffer events behind gets a
// Dropped event and its channel closes; it resumes with WatchSince.
package node
