// Package gossip replicates grapevine's CRDT state between peers. Push sends
// each committed batch of deltas to every peer through one GossipSub topic
// per network and namespace; it is the fast path and best effort. The pull
// path (anti-entropy) repairs whatever push lost.
//
// # Rejoining after a long absence (no resurrection)
//
// Tombstones are purged after the grace (storage.Config.TombstoneGrace). A
// peer that missed a delete and comes back after the purge would offer the
// deleted value as a state the others lack. Push refuses stamps older than
// the grace; pull cannot (a new peer must receive keys written months ago),
// so anti-entropy enforces this rule, per namespace:
//
//   - Synced mark. Each peer records the wall time of its last completed
//     round in the namespace with an up-to-date peer, persisted in storage
//     (saved at most grace/16 late, so a restart only errs towards caution),
//     and sends it in the sync hello. A peer is up to date when its mark is
//     younger than the grace; a round with a peer that is not up to date
//     does not refresh the mark.
//   - Pull-first. A peer that is not up to date (its mark is older than the
//     grace, or it has none) does not offer its register states older than
//     the grace (now − TombstoneGrace); newer states and counters are
//     exchanged as usual (a purged tombstone is older than the grace, so a
//     newer state wins over it anyway), and it accepts everything it is
//     sent. After a round it completed with an up-to-date peer, it drops the
//     old states it held back that the peer neither sent nor holds — they
//     were deleted and purged meanwhile (counted in NamespaceStats
//     .StaleDropped) — then it is up to date and offers everything. A new
//     peer holds nothing to hold back: it bootstraps as before.
//   - Take-over. If no peer is up to date (the whole network was stopped for
//     longer than the grace, a namespace new to the network, an upgrade from
//     a version without marks), a peer that has pulled first for
//     SyncConfig.PullFirstWait, has met at least one peer in the namespace
//     and has met none with a newer mark, and holds the namespace (or has a
//     mark for it), takes over: it marks itself up to date and becomes the
//     reference the others pull from. The trade-off: after an absence of the
//     whole network longer than the grace, or if for the whole wait a peer
//     meets only peers staler than itself, a delete purged meanwhile may come
//     back; and a write that only the returning peer held and never
//     replicated before its long absence is dropped.
//
// Entering and leaving pull-first is logged at info level, and
// Progress.PullFirst and Progress.Synced show the state.
//
// # Bulk transfer once (bootstrap)
//
// A peer receives the states of a namespace from one peer at a time, so a
// new peer connected to many peers downloads the store once, and a peer
// stopped mid-bootstrap resumes with what it still lacks (chunks commit as
// they arrive). After a namespace's reconciliation, each side takes the
// namespace's receiving lock if it is free and sends a plan (hello field 4,
// wire.FramePlan): it declines the peer's states if another round holds the
// lock, and says whether it has states to send. A declined peer sends no
// state of the namespace in that round (states still flow the other way),
// the namespace is deferred (NamespaceStats.Deferred: not clean, no synced
// mark, no stale drop), and the peer is triggered once the lock is released.
// A round also declines if another round received states of the namespace
// since its reconciliation began (the lock's generation moved): its
// outcome lists states just delivered, so the triggered round reconciles
// afresh and no state is received twice.
// Progress shows the counts of the round holding the lock, so each key is
// counted once. See bulk.go.
//
// States frames are compressed with S2 when the reader's hello says it
// reads them (field 6, wire.FrameStatesS2) and compressing makes the frame
// smaller: each register repeats its writer's 38-byte peer ID and most of
// its stamp, so small values bootstrap at about their keys and values
// (16-byte keys and random 100-byte values: 1.02× instead of 1.50×). A
// compressed frame may not decode beyond the reader's states frame limit,
// checked before decoding.
package gossip
