// Package loadgen generates load against grapevine and measures it: the one
// harness behind `grapevine bench` and the repository's Go benchmarks.
//
// Run drives a Target (a daemon over HTTP, an embedded node; a RESP door
// is one more small Target) with Config.Clients workers for a fixed
// duration. Every put writes a key no other put of the run wrote (Key), so
// a count of stored keys checks the count of acknowledged puts. Latencies
// go into a log-linear Histogram (about 1.6% relative precision); a Result
// gives throughput and p50/p90/p99/max.
//
// Beside it: Baseline measures raw Badger on the same disk in the same run
// (synced puts, a WriteBatch of the same keys) and a raw fdatasync of a
// 128-byte append, so a report can give ratios; StartCluster starts N
// in-process peers on real libp2p over 127.0.0.1 and a LagTracker records,
// per acknowledged key, the time until every other peer holds it
// (replication lag).
package loadgen
