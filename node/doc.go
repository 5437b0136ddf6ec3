// Package node composes storage, gossip and the libp2p peer into a Node:
// grapevine's embeddable Go API.
//
// Build a Node with New from a Config (start from DefaultConfig, which
// composes the defaults of storage, peer and gossip), then Start it; Close
// stops it. Its methods:
//
//   - Put, Get, Delete, List: registers (last writer wins) by key, in a
//     namespace ("" is DefaultNamespace);
//   - PutWith, DeleteWith: conditional writes (a version, or absence) and
//     values with a TTL (WriteOptions);
//   - Txn: several puts, deletes and increments applied all or nothing;
//   - Incr, Counter, ResetCounter: counters that add up exactly across
//     peers, reset with observed-reset semantics;
//   - SetAdd, SetRemove, SetMembers, SetContains: add-wins sets;
//   - Types: what a name holds (List shows every type);
//   - Watch, WatchSince, LastIndex: a stream of changes under a prefix,
//     resumable from a change index;
//   - Sync, SyncWith: an anti-entropy round now;
//   - Export, Import, Backup, Namespaces: the states as an export stream
//     (one snapshot), an export merged in as states from a peer (through
//     admit, like gossip and anti-entropy), a backup of the whole database;
//   - Peers, Status, Metrics, Ready, ID, Peer: what an operator looks at
//     (Ready: whether to send it traffic, and if not why);
//   - TrackServedBy: which peer answered a request (a holder it was
//     forwarded to, see partial.go and forward.go, or this peer);
//   - Err: whether the node is closed.
//
// Every error a method returns is one of the sentinels in errors.go (or
// wraps one), whatever layer it came from; after Close every method returns
// ErrClosed.
//
// Every write, local or remote, goes through one apply loop. Each round it
// takes everything queued (up to a size bound), commits it in one storage
// transaction — one fsync for many writers — then notifies watchers,
// acknowledges the local writers and hands the local changes to the
// publisher. Writers never wait for the network: the publisher sends them
// as gossip from its own goroutine, merging what queued up meanwhile into
// fewer, larger messages; when its bounded queue is full a batch is
// dropped and counted (grapevine_gossip_publish_dropped_total), and
// anti-entropy replicates it.
//
// A write's condition is checked inside that loop, against this peer's
// stored state, in the storage transaction of the write: exact on this
// peer, not linearizable across peers (two peers can each accept a write
// conditioned on the same version; last writer wins, and
// grapevine_cas_overwritten_total counts it: see casTracker). A value with
// a TTL carries its absolute expiry on the clock's wall part; from then on
// every peer reads it as absent, watchers get one expire event, and the
// purge reclaims it like a tombstone. A transaction (Txn) is committed
// alone, all or nothing, in one storage transaction, and published as one
// gossip message, which a receiving peer applies in one storage
// transaction too; anti-entropy may deliver its keys separately.
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
//
// A database that New finds damaged (storage.ErrDamaged: after a power
// loss on a filesystem that does not keep a new file's name without a
// directory fsync, or a disk that corrupted data) is refused by default:
// New fails and changes nothing. With Config.QuarantineDamaged it is moved
// aside under QuarantineRoot and replaced by an empty one that the peer
// fills from its peers, keeping its identity; writes only this peer had
// acknowledged and not yet replicated are lost. The new store's change
// indexes start above the lost one's (see openStore), so a watcher of the
// lost store gets ErrCompacted, never a gap. Status.Recovered reports the
// recovery until the node is closed.
package node
