package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/loadgen"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

const (
	latencyValueSize = 100
	latencyPace      = 5 * time.Millisecond // one write every 5 ms: paced, not a burst
)

// rawGossipLatencies publishes msgs messages of size bytes from one of n
// raw GossipSub peers and returns, per message, the time until every
// other peer received it.
func rawGossipLatencies(b *testing.B, n, msgs, size int) *loadgen.Histogram {
	mn, err := mocknet.FullMeshConnected(n)
	if err != nil {
		b.Fatal(err)
	}
	defer mn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var topics []*pubsub.Topic
	arrivals := make(chan int, n*msgs)
	for _, h := range mn.Hosts() {
		ps, err := pubsub.NewGossipSub(ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		t, err := ps.Join("bench")
		if err != nil {
			b.Fatal(err)
		}
		sub, err := t.Subscribe()
		if err != nil {
			b.Fatal(err)
		}
		topics = append(topics, t)
		self := h.ID()
		go func() {
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				if m.ReceivedFrom != self {
					arrivals <- int(m.Data[0])<<8 | int(m.Data[1])
				}
			}
		}()
	}
	// Warm up until a probe reaches everyone, as GossipSub drops what is
	// published before its router has taken the peers in.
	for {
		probe := make([]byte, size)
		probe[0], probe[1] = 0xff, 0xff
		_ = topics[0].Publish(ctx, probe)
		got := 0
		timeout := time.After(200 * time.Millisecond)
	wait:
		for got < n-1 {
			select {
			case <-arrivals:
				got++
			case <-timeout:
				break wait
			}
		}
		if got == n-1 {
			break
		}
	}
	return pacedLatencies(b, msgs, n-1, arrivals, func(i int) error {
		m := make([]byte, size)
		m[0], m[1] = byte(i>>8), byte(i)
		return topics[0].Publish(ctx, m)
	})
}

// nodeLatencies puts msgs keys on one of n nodes, one every latencyPace,
// and returns the time from each put's acknowledgement until every other
// node applied it, as loadgen's lag tracker (the one of `grapevine bench
// --cluster`) measures it through Watch.
func nodeLatencies(b *testing.B, n, msgs int) *loadgen.Histogram {
	// Anti-entropy at its production interval, not the tests' fast one.
	c := nodetest.NewCluster(b, n, nodetest.Configure(func(_ int, cfg *node.Config) {
		cfg.AntiEntropy.Interval = node.DefaultConfig().AntiEntropy.Interval
	}))
	c.WarmUp()
	nodes := c.Nodes()
	tr, err := loadgen.TrackLag(nodes)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	ctx := context.Background()
	value := make([]byte, latencyValueSize)
	pace := time.NewTicker(latencyPace)
	defer pace.Stop()
	for i := range uint64(msgs) {
		if _, err := nodes[0].Put(ctx, "", loadgen.Key(i), value); err != nil {
			b.Fatal(err)
		}
		tr.Acked(0, i, time.Now())
		<-pace.C
	}
	lag, err := tr.Wait(ctx, 60*time.Second)
	if err != nil || lag.Missing > 0 {
		b.Fatalf("%v; %d keys did not reach every node", err, lag.Missing)
	}
	return &lag.Lag
}

// pacedLatencies sends messages 0..msgs-1 with send, one every latencyPace,
// and returns for each the time from its send until its index arrived
// receivers times on arrivals. Indices ≥ msgs (late warm-up probes) are
// ignored.
func pacedLatencies(b *testing.B, msgs, receivers int, arrivals <-chan int, send func(i int) error) *loadgen.Histogram {
	sent := make([]time.Time, msgs)
	seen := make([]int, msgs)
	lat := make([]time.Duration, msgs)
	done := make(chan struct{})
	go func() {
		remaining := msgs
		for remaining > 0 {
			i := <-arrivals
			if i >= msgs {
				continue
			}
			if seen[i]++; seen[i] == receivers {
				lat[i] = time.Since(sent[i])
				remaining--
			}
		}
		close(done)
	}()
	for i := range msgs {
		sent[i] = time.Now()
		if err := send(i); err != nil {
			b.Fatal(err)
		}
		time.Sleep(latencyPace)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatalf("not every message reached every receiver")
	}
	var h loadgen.Histogram
	for _, d := range lat {
		h.Record(d)
	}
	return &h
}

// BenchmarkReplicationLatency reports p50/p99 from a put's
// acknowledgement on one peer to visible on all (loadgen's lag tracker),
// beside raw GossipSub delivery of a message of the same size measured in
// the same run. Each b.N iteration is one paced put.
func BenchmarkReplicationLatency(b *testing.B) {
	for _, n := range []int{5, 10} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			msgs := max(b.N, 50)
			raw := rawGossipLatencies(b, n, msgs, latencyValueSize+80)
			b.ResetTimer()
			ours := nodeLatencies(b, n, msgs)
			b.StopTimer()
			b.ReportMetric(float64(ours.Quantile(0.5).Microseconds()), "p50-µs")
			b.ReportMetric(float64(ours.Quantile(0.99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(raw.Quantile(0.5).Microseconds()), "raw-gossip-p50-µs")
			b.ReportMetric(float64(raw.Quantile(0.99).Microseconds()), "raw-gossip-p99-µs")
			b.ReportMetric(float64(ours.Quantile(0.99))/float64(raw.Quantile(0.99)), "p99-ratio")
		})
	}
}
