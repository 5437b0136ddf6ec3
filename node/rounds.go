package node

import (
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/grapevine-kv/grapevine/gossip"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// roundWarnEvery is how often a failing sync partner is logged at Warn:
// the first failure at once, later ones at most once per interval, with
// how many were not logged in between.
const roundWarnEvery = time.Minute

// rounds watches every anti-entropy round (gossip.SyncConfig.OnRound): it
// feeds the sync metrics, remembers when each namespace last had a clean
// round (the sync lag of /metrics) and logs failed rounds at Warn, rate
// limited per peer. Safe for concurrent use.
type rounds struct {
	n       *Node
	metrics *syncMetrics
	mu      struct {
		sync.Mutex
		clean   map[string]time.Time         // namespace → end of its last clean round
		history map[string]RoundHistory      // namespace → its rounds so far (Status)
		warned  map[libp2ppeer.ID]warnedPeer // last Warn per failing peer
	}
}

type warnedPeer struct {
	at         time.Time
	suppressed int
}

func newRounds(n *Node, m *syncMetrics) *rounds {
	r := &rounds{n: n, metrics: m}
	r.mu.clean = make(map[string]time.Time)
	r.mu.history = make(map[string]RoundHistory)
	r.mu.warned = make(map[libp2ppeer.ID]warnedPeer)
	return r
}

// observe is the OnRound callback.
func (r *rounds) observe(st gossip.RoundStats) {
	r.metrics.observe(st)
	now := r.n.cfg.Wall()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, ns := range st.Namespaces {
		failed := st.Err != nil && i == len(st.Namespaces)-1
		if !failed && ns.Clean() {
			r.mu.clean[ns.Namespace] = now
		}
		h := r.mu.history[ns.Namespace]
		h.BytesSent += uint64(max(ns.BytesSent, 0))
		h.BytesReceived += uint64(max(ns.BytesReceived, 0))
		if !failed {
			h.LastPeer, h.Last, h.LastClean = st.Peer.String(), now, r.mu.clean[ns.Namespace]
		}
		r.mu.history[ns.Namespace] = h
	}
	if st.Err == nil {
		delete(r.mu.warned, st.Peer)
		return
	}
	if r.n.ctx.Err() != nil || errors.Is(st.Err, gossip.ErrClosed) {
		return // shutting down: not the peer's fault
	}
	w, seen := r.mu.warned[st.Peer]
	if seen && now.Sub(w.at) < roundWarnEvery {
		w.suppressed++
		r.mu.warned[st.Peer] = w
		return
	}
	ns := ""
	if len(st.Namespaces) > 0 {
		ns = st.Namespaces[len(st.Namespaces)-1].Namespace
	}
	r.n.log.Warn("sync round failed", "peer", st.Peer, "initiator", st.Initiator, "namespace", ns,
		"reason", st.Err, "not_logged_since_last", w.suppressed)
	r.mu.warned[st.Peer] = warnedPeer{at: now}
}

// RoundHistory sums up a namespace's anti-entropy rounds, as initiator or
// responder, since the node started.
type RoundHistory struct {
	LastPeer      string    `json:"last_peer,omitempty"` // the peer of the last completed round
	Last          time.Time `json:"last,omitzero"`       // when that round ended
	LastClean     time.Time `json:"last_clean,omitzero"` // end of the last round that found no difference (the sync lag counts from it)
	BytesSent     uint64    `json:"bytes_sent"`          // on sync streams, failed rounds included
	BytesReceived uint64    `json:"bytes_received"`      // on sync streams, failed rounds included
}

// history returns each namespace's RoundHistory.
func (r *rounds) history() map[string]RoundHistory {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.mu.history)
}

// lastClean returns when each namespace last had a clean round.
func (r *rounds) lastClean() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]time.Time, len(r.mu.clean))
	for ns, t := range r.mu.clean {
		out[ns] = t
	}
	return out
}
