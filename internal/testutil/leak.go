// Package testutil holds helpers shared by the project's tests.
package testutil

import "go.uber.org/goleak"

// LeakOptions are the goleak exceptions for packages that run libp2p and
// Badger in tests: background workers of mocknet, the peerstore, logging
// and Badger's allocator pool that outlive a test by design.
//
// It also ignores the goroutines of a mocknet stream that is never torn
// down. mocknet (go-libp2p v0.51) can open a stream on a connection whose
// teardown has already run (mock_conn.go openStream/addStream race with
// Close): nothing ever resets it, and mocknet streams ignore deadlines, so
// its pump (stream.transport) and whoever writes to it or reads from it
// (GossipSub's per-peer sender and reader, seen in CI) block forever after
// the hosts are closed. On real transports the connection's close resets
// every stream and deadlines apply.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem.(*memoryAddrBook).background"),
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*peernet).handleNewStream"),
		goleak.IgnoreAnyFunction("github.com/dgraph-io/ristretto/v2/z.(*AllocatorPool).freeupAllocators"),
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
		goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
		// A mocknet stream left behind by the race above.
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*stream).transport"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*stream).Write"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p-pubsub.(*PubSub).handlePeerDead"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p-pubsub.(*PubSub).handleNewStream"),
	}
}
