// Package reconcile is grapevine's anti-entropy set reconciliation: a pure
// state machine (no I/O, goroutines or clock) that finds what two replicas
// of a namespace must send each other, at a cost proportional to their
// difference rather than to their size.
//
// Each side sees its namespace through an Index: a set of items, each a
// (type, key) identity placed at a 64-bit hash and carrying a fingerprint of
// its state. Ranges of the hash space are summarized by (count, sum of
// fingerprints); the ranges compared are those of the 16-ary tree defined
// by internal/rangetree, from the whole space (level 0) down to 2^16 leaves
// (rangetree.LeafLevel), which storage keeps in memory.
//
// A session is a dialogue of questions and answers. The initiator's first
// message asks about the root. A side answering a summary question about a
// range compares the peer's summary with its own:
//
//   - equal: nothing to do, and nothing said (the answer is implied by the
//     acknowledgement);
//   - empty on one side: the other side streams the range whole, which makes
//     bootstrapping a new peer the same protocol;
//   - few items on either side (ListThreshold), or a leaf: the answering
//     side sends its item list (fingerprints only: each side only ever sends
//     its own items, so keys never travel); the other side sends the items
//     the list lacks and answers with the positions of the listed items it
//     lacks, which the lister then sends;
//   - otherwise: the answering side sends its summaries of the 16 children,
//     each a new question for the peer.
//
// All the answers a side can give in one go travel in one message (up to
// MaxMessageSize), so identical replicas settle in one round trip of a few
// dozen bytes, and each further round trip descends two levels of the tree.
// The result on each side is an Outcome: the items to send and the ranges
// to stream whole. Both sides send their differing items; merging on
// receipt is idempotent, so no side needs to know which state is newer.
//
// Messages are protobuf (see Message), decoded under strict limits; a
// message that does not decode, or does not fit the session, ends the
// session with an error wrapping ErrMalformed. The transport frames them
// (e.g. a uvarint length prefix) and should refuse a frame longer than
// MaxMessageSize before reading it.
package reconcile
