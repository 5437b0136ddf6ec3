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
// Run drives one whole run; the checkers (Check) are pure functions of a
// recorded history and final reads, tested on their own.
package chaos
