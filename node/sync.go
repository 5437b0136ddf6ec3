package node

import (
	"context"
	"fmt"

	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/internal/wire"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// applySynced is the anti-entropy Applier: states from a peer go through
// admit (a refused state is dropped and counted, the rest of the chunk
// applies) and then the apply loop like gossip, but the caller waits until
// they are durable (so a bootstrap commits chunk by chunk and resumes after
// interruption).
func (n *Node) applySynced(ctx context.Context, _ libp2ppeer.ID, ns string, deltas []wire.Delta) (int, error) {
	if f := n.beforeSyncApply.Load(); f != nil {
		if err := (*f)(); err != nil {
			return 0, err
		}
	}
	if !n.replicates(ns) {
		n.ignored.Add(float64(len(deltas)))
		return 0, nil
	}
	if err := n.join(ns); err != nil {
		return 0, err
	}
	ops := n.remoteOps(ns, n.admitDeltas(ns, deltas))
	if len(ops) == 0 {
		return 0, nil
	}
	results, err := n.enqueue(ctx, false, ops)
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, r := range results {
		if r.Changed {
			changed++
		}
	}
	return changed, nil
}

// Sync runs one anti-entropy round now with a random connected peer and
// reports what it found.
func (n *Node) Sync(ctx context.Context) (gossip.RoundStats, error) {
	if err := n.Err(); err != nil {
		return gossip.RoundStats{}, err
	}
	p, ok := n.syncer.RandomPeer()
	if !ok {
		return gossip.RoundStats{}, ErrNoPeers
	}
	return n.SyncWith(ctx, p)
}

// SyncWith runs one anti-entropy round now with peer p.
func (n *Node) SyncWith(ctx context.Context, p libp2ppeer.ID) (gossip.RoundStats, error) {
	if err := n.Err(); err != nil {
		return gossip.RoundStats{}, err
	}
	st, err := n.syncer.SyncWith(ctx, p)
	if err != nil && n.Err() != nil {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return st, translate(err, ErrSync)
}

type syncMetrics struct {
	rounds, bytesSent, bytesReceived, repaired, errs *prometheus.CounterVec
	staleDropped                                     *prometheus.CounterVec
	roundTrips                                       *prometheus.HistogramVec
}

func newSyncMetrics(reg *prometheus.Registry) *syncMetrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"namespace"})
	}
	m := &syncMetrics{
		rounds:        counter("grapevine_sync_rounds_total", "Anti-entropy rounds completed, as initiator or responder."),
		bytesSent:     counter("grapevine_sync_bytes_sent_total", "Bytes sent on sync streams."),
		bytesReceived: counter("grapevine_sync_bytes_received_total", "Bytes received on sync streams."),
		repaired:      counter("grapevine_sync_keys_repaired_total", "States received by anti-entropy that changed local state."),
		errs:          counter("grapevine_sync_errors_total", "Failed anti-entropy rounds (namespace empty when the round failed before reaching one)."),
		staleDropped:  counter("grapevine_sync_stale_dropped_total", "Own states dropped after rejoining pull-first: older than the tombstone grace and absent from an up-to-date peer (deleted and purged meanwhile)."),
		roundTrips: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grapevine_sync_round_trips",
			Help:    "Reconciliation round trips per namespace and round.",
			Buckets: []float64{1, 2, 3, 4, 5, 6, 8, 12, 16, 32},
		}, []string{"namespace"}),
	}
	reg.MustRegister(m.rounds, m.bytesSent, m.bytesReceived, m.repaired, m.errs, m.staleDropped, m.roundTrips)
	return m
}

func (m *syncMetrics) observe(r gossip.RoundStats) {
	for i, ns := range r.Namespaces {
		l := ns.Namespace
		m.bytesSent.WithLabelValues(l).Add(float64(ns.BytesSent))
		m.bytesReceived.WithLabelValues(l).Add(float64(ns.BytesReceived))
		m.repaired.WithLabelValues(l).Add(float64(ns.Repaired))
		m.staleDropped.WithLabelValues(l).Add(float64(ns.StaleDropped))
		failed := r.Err != nil && i == len(r.Namespaces)-1
		if failed {
			m.errs.WithLabelValues(l).Inc()
			continue
		}
		m.rounds.WithLabelValues(l).Inc()
		m.roundTrips.WithLabelValues(l).Observe(float64(ns.RoundTrips))
	}
	if r.Err != nil && len(r.Namespaces) == 0 {
		m.errs.WithLabelValues("").Inc()
	}
}
