package node

import (
	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	appliedLocal, appliedRemote prometheus.Counter
	applySeconds, batchOps      prometheus.Histogram
}

func (m metrics) applied(local bool) prometheus.Counter {
	if local {
		return m.appliedLocal
	}
	return m.appliedRemote
}

func newMetrics(reg *prometheus.Registry, push *gossip.Push, p *peer.Peer) metrics {
	applied := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grapevine_applied_deltas_total",
		Help: "Deltas that changed stored state, by source (local write or remote gossip/sync).",
	}, []string{"source"})
	m := metrics{
		appliedLocal:  applied.WithLabelValues("local"),
		appliedRemote: applied.WithLabelValues("remote"),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "grapevine_apply_batch_seconds",
			Help:    "Time to commit one apply batch (group commit), including fsync.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		batchOps: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "grapevine_apply_batch_ops",
			Help:    "Operations committed per apply batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
	}
	gossipMsgs := func(name, help string, f func(gossip.PushStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(push.Stats())) })
	}
	refusals := func(reason string, f func(peer.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "grapevine_peer_refusals_total",
			Help:        "Connections and dials refused, by reason: network (the peer is on another network), allowlist (not in --allow-peers).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(f(p.Stats())) })
	}
	reg.MustRegister(applied, m.applySeconds, m.batchOps,
		refusals(peer.RefusalNetwork, func(s peer.Stats) uint64 { return s.RefusedNetwork }),
		refusals(peer.RefusalAllowlist, func(s peer.Stats) uint64 { return s.RefusedAllowlist }),
		gossipMsgs("grapevine_gossip_messages_published_total", "Gossip messages published.", func(s gossip.PushStats) uint64 { return s.Published }),
		gossipMsgs("grapevine_gossip_messages_received_total", "Valid gossip messages received.", func(s gossip.PushStats) uint64 { return s.Received }),
		gossipMsgs("grapevine_gossip_messages_rejected_total", "Gossip messages rejected by validation.", func(s gossip.PushStats) uint64 { return s.Rejected }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}
