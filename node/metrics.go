package node

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/peer"
	"github.com/grapevine-kv/grapevine/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	appliedLocal, appliedRemote prometheus.Counter
	applySeconds, batchOps      prometheus.Histogram
	publishDropped              prometheus.Counter
	totals                      *appliedTotals // the same counts, for Status
}

// appliedTotals counts the deltas that changed stored state, as
// grapevine_applied_deltas_total does, readable without a scrape.
type appliedTotals struct{ local, remote atomic.Uint64 }

// countApplied counts one delta that changed stored state.
func (m metrics) countApplied(local bool) {
	if local {
		m.appliedLocal.Inc()
		m.totals.local.Add(1)
		return
	}
	m.appliedRemote.Inc()
	m.totals.remote.Add(1)
}

func newMetrics(reg *prometheus.Registry, push *gossip.Push, p *peer.Peer, n *Node) metrics {
	applied := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grapevine_applied_deltas_total",
		Help: "Deltas that changed stored state, by source (local write or remote gossip/sync).",
	}, []string{"source"})
	m := metrics{
		appliedLocal:  applied.WithLabelValues("local"),
		appliedRemote: applied.WithLabelValues("remote"),
		totals:        &appliedTotals{},
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
		publishDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grapevine_gossip_publish_dropped_total",
			Help: "Committed local batches not gossiped because the publish queue was full (the network was slower than the writes); anti-entropy replicates them.",
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
	reg.MustRegister(applied, m.applySeconds, m.batchOps, m.publishDropped,
		refusals(peer.RefusalNetwork, func(s peer.Stats) uint64 { return s.RefusedNetwork }),
		refusals(peer.RefusalAllowlist, func(s peer.Stats) uint64 { return s.RefusedAllowlist }),
		gossipMsgs("grapevine_gossip_messages_published_total", "Gossip messages published.", func(s gossip.PushStats) uint64 { return s.Published }),
		gossipMsgs("grapevine_gossip_messages_received_total", "Valid gossip messages received.", func(s gossip.PushStats) uint64 { return s.Received }),
		gossipMsgs("grapevine_gossip_messages_rejected_total", "Gossip messages rejected by validation.", func(s gossip.PushStats) uint64 { return s.Rejected }),
		gossipMsgs("grapevine_gossip_messages_undelivered_total", "Gossip messages GossipSub dropped because this peer's reader was behind (anti-entropy repairs them).", func(s gossip.PushStats) uint64 { return s.Undelivered }),
		gossipMsgs("grapevine_gossip_messages_unsent_total", "Gossip messages GossipSub did not send to a peer whose outbound queue was full (anti-entropy repairs them).", func(s gossip.PushStats) uint64 { return s.Unsent }),
		gossipMsgs("grapevine_gossip_announcements_total", "Gossip messages published on the namespaces topic (a namespace's first ones; see gossip.PushConfig.AnnounceWindow).", func(s gossip.PushStats) uint64 { return s.Announced }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "grapevine_peers", Help: "Connected peers of this network."},
			func() float64 { return float64(len(p.Peers())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "grapevine_known_peers", Help: "Peers this one expects to reach: its bootstrap list and the peers it remembers."},
			func() float64 { return float64(p.KnownPeers()) }),
		stateCollector{n},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reg.MustRegister(osCollectors()...)
	return m
}

var (
	itemsDesc = prometheus.NewDesc("grapevine_items",
		"Live keys stored, by namespace and type (register tombstones are in grapevine_tombstones); counted at most every 10 s.", []string{"namespace", "type"}, nil)
	tombstonesDesc = prometheus.NewDesc("grapevine_tombstones",
		"Register tombstones not purged yet, by namespace; counted at most every 10 s.", []string{"namespace"}, nil)
	syncLagDesc = prometheus.NewDesc("grapevine_sync_lag_seconds",
		"Seconds since the namespace's last clean anti-entropy round (since the node started if it had none).", []string{"namespace"}, nil)
)

// stateCollector reports what the node stores and how far behind its sync
// is: items and tombstones from cachedCounts, the lag at each scrape.
type stateCollector struct{ n *Node }

// countsMaxAge is how long a scrape reuses the last counts. Counting is a
// pass over every key (storage.DB.Count: about a second of CPU at 1M
// keys), so a scraper polling every second must not make the peer count
// every second; Prometheus's usual 15 s interval always gets a new count.
const countsMaxAge = 10 * time.Second

// countsCache holds the last counts made, when and at which storage
// commit.
type countsCache struct {
	mu      sync.Mutex
	at      time.Time
	commits uint64 // storage.DB.Commits when counted
	counts  map[string]storage.Counts
}

// cachedCounts returns the last counts if nothing was committed since, or
// if they are younger than maxAge; else it counts again. Status passes 0
// (always exact), a scrape countsMaxAge.
func (n *Node) cachedCounts(maxAge time.Duration) map[string]storage.Counts {
	c := &n.countsCache
	c.mu.Lock()
	defer c.mu.Unlock()
	commits := n.db.Commits()
	if c.counts == nil || (commits != c.commits && time.Since(c.at) >= maxAge) {
		c.counts, c.at, c.commits = n.counts(), time.Now(), commits
	}
	return c.counts
}

// Describe implements prometheus.Collector.
func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- itemsDesc
	ch <- tombstonesDesc
	ch <- syncLagDesc
}

// Collect implements prometheus.Collector.
func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.n.Err() != nil {
		return
	}
	counts := c.n.cachedCounts(countsMaxAge)
	for ns, cs := range counts {
		for t, k := range liveByType(cs) {
			ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(k), ns, t.String())
		}
		ch <- prometheus.MustNewConstMetric(tombstonesDesc, prometheus.GaugeValue, float64(cs.Tombstones), ns)
	}
	now := c.n.cfg.Wall()
	clean := c.n.rounds.lastClean()
	for ns := range counts {
		since, ok := clean[ns]
		if !ok {
			since = c.n.born
		}
		ch <- prometheus.MustNewConstMetric(syncLagDesc, prometheus.GaugeValue, now.Sub(since).Seconds(), ns)
	}
}
