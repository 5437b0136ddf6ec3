package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/grapevine-kv/grapevine/node"
)

// LagTracker measures replication lag: for each acknowledged key, the time
// from its acknowledgement to its arrival on the last of the other peers
// (each peer watched with node.Watch). A key that arrives on a peer before
// its writer's acknowledgement has a lag of 0. Safe for concurrent use.
type LagTracker struct {
	peers  int
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     struct {
		sync.Mutex
		keys    map[uint64]*lagKey
		pending int // keys acknowledged and not yet on every peer
		lag     Histogram
		err     error // a watch that failed
	}
}

// lagKey is one key's acknowledgement and arrivals.
type lagKey struct {
	writer   int         // the peer that acknowledged it; -1 until then
	ack      time.Time   // when it was acknowledged
	arrivals []time.Time // per peer, zero until the key arrived there
	seen     int         // peers with an arrival
}

// TrackLag starts a watch of the benchmark keys (KeyPrefix) in the default
// namespace on every peer of nodes, until Close. Report each acknowledged
// put with Acked (Config.OnPut), with the index in nodes of the peer that
// acknowledged it.
func TrackLag(nodes []*node.Node) (*LagTracker, error) {
	ctx, cancel := context.WithCancel(context.Background())
	t := &LagTracker{peers: len(nodes), cancel: cancel}
	t.mu.keys = make(map[uint64]*lagKey)
	for p, nd := range nodes {
		events, err := nd.Watch(ctx, "", KeyPrefix())
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("loadgen: watch peer %d: %w", p, err)
		}
		t.wg.Go(func() { t.follow(ctx, nd, p, events) })
	}
	return t, nil
}

// Close stops the watches and waits for them to end. It is idempotent.
func (t *LagTracker) Close() {
	t.cancel()
	t.wg.Wait()
}

// follow records the arrivals on peer p until ctx is done; a watcher
// that fell behind resumes from its last index (its replayed keys count as
// arriving when replayed: later, never earlier, than they did).
func (t *LagTracker) follow(ctx context.Context, nd *node.Node, p int, events <-chan node.Event) {
	for {
		var last uint64
		for ev := range events {
			last = ev.Index
			if i, ok := KeyIndex(ev.Key); ok && !ev.Dropped && !ev.Deleted {
				t.arrived(i, p, time.Now())
			}
		}
		if ctx.Err() != nil {
			return
		}
		var err error
		if events, err = nd.WatchSince(ctx, "", KeyPrefix(), last); err != nil {
			t.mu.Lock()
			t.mu.err = fmt.Errorf("loadgen: resume the watch of peer %d: %w", p, err)
			t.mu.Unlock()
			return
		}
	}
}

// keyLocked returns key i's record, creating it.
func (t *LagTracker) keyLocked(i uint64) *lagKey {
	k := t.mu.keys[i]
	if k == nil {
		k = &lagKey{writer: -1, arrivals: make([]time.Time, t.peers)}
		t.mu.keys[i] = k
	}
	return k
}

// Acked records that peer writer acknowledged key i at ack.
func (t *LagTracker) Acked(writer int, i uint64, ack time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.keyLocked(i)
	k.writer, k.ack = writer, ack
	t.mu.pending++
	t.completeLocked(i, k)
}

// arrived records that key i arrived on peer p at at.
func (t *LagTracker) arrived(i uint64, p int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.keyLocked(i)
	if !k.arrivals[p].IsZero() {
		return
	}
	k.arrivals[p] = at
	k.seen++
	t.completeLocked(i, k)
}

// completeLocked records key i's lag once it is acknowledged and on every
// peer.
func (t *LagTracker) completeLocked(i uint64, k *lagKey) {
	if k.writer < 0 || k.seen < t.peers {
		return
	}
	var lag time.Duration
	for p, at := range k.arrivals {
		if p != k.writer {
			lag = max(lag, at.Sub(k.ack))
		}
	}
	t.mu.lag.Record(lag)
	t.mu.pending--
	delete(t.mu.keys, i)
}

// LagResult is what a LagTracker measured.
type LagResult struct {
	// Lag holds, per key on every peer, the time from its acknowledgement
	// to its arrival on the last other peer.
	Lag Histogram
	// Missing counts acknowledged keys not on every peer when Wait gave up.
	Missing int
	// Waited is how long Wait waited after the load for the last keys.
	Waited time.Duration
}

// Wait waits until every acknowledged key is on every peer, up to
// timeout, and returns the lags. Call it after the run.
func (t *LagTracker) Wait(ctx context.Context, timeout time.Duration) (LagResult, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		pending, err := t.mu.pending, t.mu.err
		t.mu.Unlock()
		if pending == 0 || err != nil || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return LagResult{Lag: t.mu.lag, Missing: t.mu.pending, Waited: time.Since(start)}, t.mu.err
}
