package node

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/storage"
)

// maxCASTracked bounds the keys casTracker remembers; past it, further
// conditional wins are not tracked (and so not counted) until some of the
// tracked ones are replaced.
const maxCASTracked = 1 << 16

// casTracker makes the cross-peer limit of conditional writes visible.
// It counts, in grapevine_cas_overwritten_total, the conditional writes
// (PutWith/DeleteWith with a condition, or a conditional op of a Txn)
// that succeeded on this peer and were still the key's state on this peer
// when a state received from another peer (push or anti-entropy) replaced
// them. A register carries no causal history, so a later remote write
// whose writer had already seen ours cannot be told apart from a
// concurrent one; the count is exact for the case it exists for, two peers
// accepting a write conditioned on the same version, and an upper bound in
// general. A later local write to the key stops tracking it.
type casTracker struct {
	overwritten prometheus.Counter
	mu          struct {
		sync.Mutex
		wins map[string]struct{} // ns 0x00 key of each local conditional win still stored
	}
}

func newCASTracker(reg *prometheus.Registry) *casTracker {
	c := &casTracker{overwritten: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "grapevine_cas_overwritten_total",
		Help: "Conditional writes accepted on this peer that a state from another peer later replaced (conditional writes are exact on one peer, not across peers).",
	})}
	c.mu.wins = make(map[string]struct{})
	reg.MustRegister(c.overwritten)
	return c
}

// observe records the committed ops of one request (local or remote).
func (c *casTracker) observe(ops []storage.Op, results []storage.Result, local bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, res := range results {
		if _, ok := res.State.(crdt.Register); !ok || !res.Changed || res.Err != nil {
			continue
		}
		k := ops[i].Namespace + "\x00" + string(ops[i].Key)
		switch {
		case local && ops[i].Cond != nil:
			if len(c.mu.wins) < maxCASTracked {
				c.mu.wins[k] = struct{}{}
			}
		case local:
			delete(c.mu.wins, k)
		default:
			// A remote state that changed the key replaced the local
			// win, whatever its stamp (it may equal ours: two peers can
			// issue one stamp; the origin then decides).
			if _, ok := c.mu.wins[k]; ok {
				c.overwritten.Inc()
				delete(c.mu.wins, k)
			}
		}
	}
}
