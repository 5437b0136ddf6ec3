package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// BenchmarkSignedPut: Put of 100-byte values on one in-memory node (no
// fsync), to an open namespace and to a signed one (this peer on its writer
// list), alternating in the same run; reports both and the ratio. The
// difference is one Ed25519 signature per write (plus its 66 bytes).
func BenchmarkSignedPut(b *testing.B) {
	cfg := nodetest.Config(b)
	cfg.Writers = map[string][]libp2ppeer.ID{signedNS: {cfg.Host.ID()}}
	n := nodetest.Start(b, cfg)
	ctx := context.Background()
	val := make([]byte, 100)
	var open, signed time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Appendf(nil, "key-%d", i)
		start := time.Now()
		if _, err := n.Put(ctx, "", key, val); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := n.Put(ctx, signedNS, key, val); err != nil {
			b.Fatal(err)
		}
		open, signed = open+mid.Sub(start), signed+time.Since(mid)
	}
	b.ReportMetric(float64(open.Nanoseconds())/float64(b.N), "open-ns/put")
	b.ReportMetric(float64(signed.Nanoseconds())/float64(b.N), "signed-ns/put")
	b.ReportMetric(float64(signed)/float64(open), "signed/open")
}

// BenchmarkSignedBootstrap: a new peer copies 4000 keys by anti-entropy
// from a writer, in an open namespace and in a signed one (every state
// verified on receipt), each iteration on a fresh pair of nodes; reports
// the time per state of each and the ratio.
func BenchmarkSignedBootstrap(b *testing.B) {
	const keys = 4000
	ctx := context.Background()
	val := make([]byte, 100)
	run := func(ns string) time.Duration {
		c := nodetest.NewCluster(b, 2, nodetest.Writers(signedNS, 0),
			nodetest.Configure(func(_ int, cfg *node.Config) { cfg.ManualSync = true }))
		src, dst := c.Node(0), c.Node(1)
		dst.DropGossipForTest(true)
		for i := range keys {
			if _, err := src.Put(ctx, ns, fmt.Appendf(nil, "key-%06d", i), val); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		if _, err := dst.SyncWith(ctx, libp2ppeer.ID(src.ID())); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if nsDigest(dst, ns) != nsDigest(src, ns) {
			b.Fatalf("bootstrap of %s incomplete", ns)
		}
		return d
	}
	var open, signed time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		o := run("bench")
		s := run(signedNS)
		b.StartTimer()
		open, signed = open+o, signed+s
	}
	per := float64(b.N * keys)
	b.ReportMetric(float64(open.Nanoseconds())/per, "open-ns/state")
	b.ReportMetric(float64(signed.Nanoseconds())/per, "signed-ns/state")
	b.ReportMetric(float64(signed)/float64(open), "signed/open")
}

// BenchmarkSignVerify: the cost of one Ed25519 signature and one
// verification of a register payload with a libp2p key (what a signed
// write and a received state pay), against encoding the state (what every
// state pays anyway).
func BenchmarkSignVerify(b *testing.B) {
	cfg := nodetest.Config(b)
	sk := cfg.Host.Peerstore().PrivKey(cfg.Host.ID())
	pk := sk.GetPublic()
	r := crdt.Register{Time: 1 << 40, Origin: crdt.ReplicaID(cfg.Host.ID()), Value: make([]byte, 100)}
	payload := crdt.AppendRegisterPayload(nil, signedNS, []byte("key-000001"), r)
	sig, err := sk.Sign(payload)
	if err != nil {
		b.Fatal(err)
	}
	r.Sig = sig
	b.Run("encode", func(b *testing.B) {
		for range b.N {
			_ = crdt.Encode(r)
		}
	})
	b.Run("sign", func(b *testing.B) {
		for range b.N {
			_, _ = sk.Sign(crdt.AppendRegisterPayload(payload[:0:0], signedNS, []byte("key-000001"), r))
		}
	})
	b.Run("verify", func(b *testing.B) {
		for range b.N {
			if ok, _ := pk.Verify(crdt.AppendRegisterPayload(payload[:0:0], signedNS, []byte("key-000001"), r), r.Sig); !ok {
				b.Fatal("bad signature")
			}
		}
	})
}
