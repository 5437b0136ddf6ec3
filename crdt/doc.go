// Package crdt holds grapevine's replicated data types and its hybrid logical
// clock: pure merge rules, total orders and binary encodings, with no I/O, no
// goroutines and no reading of the wall clock. Time and replica identities are
// passed in by the caller.
//
// Every type's merge is commutative, associative and idempotent, so replicas
// that receive the same states in any order, any number of times, converge to
// byte-identical encodings.
//
// # Counters that can be reset
//
// A Counter is reset with observed-reset semantics (Counter.Reset): the
// resetting replica R records, per origin slot, the (P, N) it had seen — its
// floors — and the counter's value becomes
//
//	Σ_o (P_o − max_R P0_{R,o}) − (N_o − max_R N0_{R,o})
//
// so a reset removes the increments R had seen, and an increment made
// concurrently, which R had not seen, survives it. Floors are kept per
// resetter, merged by max per (resetter, origin), so each entry is written
// only by its own replica, as slots are. A counter whose slots all sit at
// their floors (IsReset) reads 0 and is purged by storage after the
// tombstone grace, counted from its ResetTime.
//
// # The add-wins set
//
// A Set is an observed-remove set in delta-state form (Almeida, Shoker and
// Baquero, "Delta State Replicated Data Types", 2018): members carry the
// dots (origin, counter) of the adds that put them there, and the state
// carries a causal context (a version vector and a cloud of dots past its
// gaps). A remove drops the dots it saw and keeps them in the context, so it
// needs no tombstone per member; an add concurrent with a remove of the same
// member has a dot the remove never saw, and the member stays (add wins).
// Set.Add and Set.Remove return deltas, small states that merge like any
// other.
//
// Signatures (namespaces with a writer list) cover registers and counter
// slots only: counter resets and sets carry none, so the node refuses them
// in such namespaces.
package crdt
