// Package chaos is grapevine's Jepsen-style fault-injection suite. It runs
// real `grapevine daemon` processes on loopback addresses, drives a recorded
// workload through their HTTP APIs (every operation logged as invoke / ok /
// fail / info in JSON lines), injects faults — partitions (nftables when it
// works, else the daemons' test-only connection gater), kill -9 and restart,
// SIGSTOP/SIGCONT, clock skew through the daemons' test hooks — and a rogue
// libp2p peer that sends malformed gossip and sync streams. Then it heals
// everything, waits for the peers to converge, reads every key on every
// peer, and checks the history against the model: last-writer-wins
// registers by (HLC, origin), PN-counters by the Maelstrom rule, deletes stay
// deleted, convergence, and local durability after kill -9.
//
// The daemons run with a short --tombstone-grace, and one peer is held away
// (killed) for longer than it while keys it holds are deleted elsewhere, then
// brought back: the resurrection checker requires those keys to stay deleted
// on every peer (the rejoin rule of package gossip; the grapevine_no_pullfirst
// build is its negative control). Every namespace starts with no up-to-date
// peer, so the daemons get a short hidden --test-pull-first-wait (the take-over
// after 10 minutes would withhold every state older than the grace for a
// whole short run). A few register puts are large (1 MiB up to
// --max-value-size), and three write-once large values go to namespace big
// (the big-values checker requires each on every peer); a second plain
// namespace has its own registers; and a new peer joins halfway (once the
// long absence is over), bootstrapping from the others (the joiner checker
// requires it to end with everything the first peers hold).
//
// Power loss: every data directory is a FUSE mount (package powerfs) over
// a backing directory, and one kill in three, the first among them, drops
// everything the daemon did not fsync before the restart. The durability
// checker requires every acknowledged write back after it, and the daemon
// to come back at all. Without FUSE the run fails at once, saying why
// (Faults.PowerLoss false leaves the fault out); the mounts are unmounted
// however Run ends.
//
// Newer types (files cas.go, ttl.go, sets.go, txn.go): three operations in
// ten are conditional writes, TTL puts and reads, set adds and removes, or
// transactions, each on keys of their own, with a rule per type that is
// exact for a leaderless store:
//
//   - cas: conditional writes are exact on one peer and not across peers.
//     Two acknowledged writes of a key through the same peer never carry
//     the same condition (version, or absence); a peer never accepts a
//     write conditioned on a state it had already left (a version below
//     one it acknowledged or served before the write was invoked, or
//     absence after a value). Writes accepted on one condition by several
//     peers are counted, not faulted; the final value is an acknowledged
//     write, and lww judges which (the keys are never deleted nor expire,
//     so a peer's version of them only grows).
//   - ttl: a peer judges expiry (write stamp + TTL) by its own clock, real
//     time plus the nemesis's skew, so a read invoked at real time t on a
//     peer whose clock was at most b behind during the read (b from the
//     skews the nemesis recorded; 0 if unskewed or skewed forward, which
//     only expires values earlier) never returns a value with t + b past
//     its expiry (by a millisecond, for rounding). This is exact, and tighter than the documented
//     drift bound (1 minute). At the end no peer lists an expired TTL key,
//     a key absent there has its greatest acknowledged write expired, and
//     a value present is no older than an acknowledged write.
//   - sets (add-wins): a remove takes out only the adds its peer had
//     applied. A member with an ok add that no ok or info remove
//     completing after the add was invoked could have seen must be
//     present at the end; a member removed (ok) through a peer after
//     every add of it, all ok and all through that peer, completed must
//     be absent; no member appears that nobody added; all peers agree.
//     ("A remove that started after the add completed wins" is not a
//     rule: its peer may not have received the add yet.)
//   - txn: each txn puts the same unique id into its group's keys a and b
//     and increments its counter n. For every ok txn and each key it
//     wrote, the final key holds its id or that of a txn whose write of
//     the key has a greater stamp (an info txn's stamps are unknown):
//     its writes are visible together or superseded. a and b may end with
//     different ids only that way (stamps grow op by op within a txn, so
//     concurrent txns on two peers can interleave); n is the number of ok
//     txns plus at most the info ones.
//
// Clock skews: backward up to MaxSkew, forward at most half the tombstone
// grace (Config.MaxForwardJump). A clock that jumps ahead by more than the
// grace purges tombstones it has not spread yet, and a deleted key comes
// back: outside what grapevine promises, so the nemesis never does it.
//
// Run drives one whole run; the checkers (Check) are pure functions of a
// recorded history and final reads, tested on their own.
package chaos
