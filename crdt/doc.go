// Package crdt holds grapevine's replicated data types and its hybrid logical
// clock: pure merge rules, total orders and binary encodings, with no I/O, no
// goroutines and no reading of the wall clock. Time and replica identities are
// passed in by the caller.
//
// Every type's merge is commutative, associative and idempotent, so replicas
// that receive the same states in any order, any number of times, converge to
// byte-identical encodings.
package crdt
