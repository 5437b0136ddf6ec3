package gossip

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// This file enforces the rejoin rule described in the package doc: synced
// marks, pull-first, dropping what an up-to-date peer lacks, and the
// take-over when no peer is up to date.

// freshness tracks, per namespace, this peer's synced mark and whether it
// is pulling first. Safe for concurrent use.
type freshness struct {
	store Store
	grace time.Duration
	wait  time.Duration
	now   func() time.Time
	log   *slog.Logger

	mu struct {
		sync.Mutex
		ns map[string]*nsFresh
	}
}

// nsFresh is one namespace's state; guarded by freshness.mu.
type nsFresh struct {
	mark      time.Time // the synced mark; zero if none
	saved     time.Time // the mark on disk
	pullFirst bool      // pulling first (entered and not left)
	since     time.Time // when pull-first began (monotonic, for the wait)
	newest    time.Time // the newest mark of a peer met while pulling first
	met       bool      // met a peer while pulling first
}

func newFreshness(store Store, cfg SyncConfig) (*freshness, error) {
	marks, err := store.SyncedMarks()
	if err != nil {
		return nil, fmt.Errorf("gossip: load synced marks: %w", err)
	}
	f := &freshness{store: store, grace: cfg.TombstoneGrace, wait: cfg.PullFirstWait, now: cfg.Now, log: cfg.Logger}
	f.mu.ns = make(map[string]*nsFresh, len(marks))
	for ns, t := range marks {
		f.mu.ns[ns] = &nsFresh{mark: t, saved: t}
	}
	return f, nil
}

// stateLocked returns ns's state, creating it.
func (f *freshness) stateLocked(ns string) *nsFresh {
	st := f.mu.ns[ns]
	if st == nil {
		st = &nsFresh{}
		f.mu.ns[ns] = st
	}
	return st
}

// current reports whether a synced mark is within the grace: the peer
// holding it has missed no tombstone that anyone may have purged.
func (f *freshness) current(mark time.Time) bool {
	return !mark.IsZero() && f.now().Sub(mark) < f.grace
}

// hello appends the synced marks of every namespace that has one.
func (f *freshness) hello(b []byte) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for ns, st := range f.mu.ns {
		if st.mark.IsZero() || n == wire.MaxHelloNamespaces {
			continue
		}
		b = wire.AppendHelloSynced(b, ns, st.mark.UnixMilli())
		n++
	}
	return b
}

// holds reports whether this peer holds any state in ns.
func (f *freshness) holds(ns string) bool {
	return f.store.Summarize(ns, 0, math.MaxUint64).Count > 0
}

// begin is called as a round reaches ns: it returns nil if this peer is
// up to date there (offer everything), or the pull-first plan of the
// round, logging when the namespace enters pull-first.
func (f *freshness) begin(ns string) *pullFirst {
	holds := f.holds(ns)
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.stateLocked(ns)
	if f.current(st.mark) {
		return nil
	}
	if !st.pullFirst {
		st.pullFirst, st.since, st.newest, st.met = true, time.Now(), time.Time{}, false
		switch {
		case !holds:
		case st.mark.IsZero():
			f.log.Info(fmt.Sprintf("namespace %s: never synced with an up-to-date peer; pulling before offering local states older than the tombstone grace (%s)", ns, f.grace),
				"namespace", ns)
		default:
			f.log.Info(fmt.Sprintf("namespace %s: away longer than the tombstone grace (%s); pulling before offering local states", ns, f.grace),
				"namespace", ns, "last_synced", st.mark.UTC().Format(time.RFC3339))
		}
	}
	return &pullFirst{horizon: crdt.NewTimestamp(f.now().Add(-f.grace).UnixMilli(), 0)}
}

// done is called when a round completed ns without error; peerMark is the
// peer's synced mark of ns (ok false if it sent none) and pf what begin
// returned. With an up-to-date peer, it first drops the states pf withheld
// that the peer lacks, then marks ns synced now. A peer pulling first that
// has met no up-to-date peer for the wait takes over as the reference if
// no peer it met synced more recently. It returns how many states it
// dropped.
func (f *freshness) done(ns string, from libp2ppeer.ID, peerMark int64, ok bool, pf *pullFirst) (int, error) {
	var theirs time.Time
	if ok {
		theirs = time.UnixMilli(peerMark)
	}
	if ok && f.current(theirs) {
		dropped := 0
		if pf != nil {
			var err error
			if dropped, err = f.store.DropStale(ns, pf.stale()); err != nil {
				return dropped, fmt.Errorf("gossip: drop stale states of %s: %w", ns, err)
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		st := f.stateLocked(ns)
		if st.pullFirst {
			st.pullFirst = false
			f.log.Info(fmt.Sprintf("namespace %s: pulled from up-to-date peer %s; offering local states again", ns, from),
				"namespace", ns, "peer", from, "stale_dropped", dropped)
			return dropped, f.markLocked(ns, st, true)
		}
		return dropped, f.markLocked(ns, st, false)
	}
	if pf == nil {
		return 0, nil // this side is up to date; a stale peer does not refresh it
	}
	holds := f.holds(ns)
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.stateLocked(ns)
	if !st.pullFirst {
		return 0, nil // up to date since this round began
	}
	st.met = true
	if theirs.After(st.newest) {
		st.newest = theirs
	}
	if time.Since(st.since) < f.wait || (!holds && st.mark.IsZero()) || st.newest.After(st.mark) {
		return 0, nil
	}
	st.pullFirst = false
	f.log.Info(fmt.Sprintf("namespace %s: no up-to-date peer for %s and none synced it more recently; taking over as its reference (a delete purged meanwhile may come back)", ns, f.wait),
		"namespace", ns, "last_synced", st.mark)
	return 0, f.markLocked(ns, st, true)
}

// markLocked sets ns's mark to now, saving it if force or if the saved
// mark lags by grace/16 or more (so a restart finds it at most that stale:
// more cautious, never less).
func (f *freshness) markLocked(ns string, st *nsFresh, force bool) error {
	st.mark = f.now()
	if !force && st.mark.Sub(st.saved) < f.grace/16 {
		return nil
	}
	if err := f.store.SetSyncedMark(ns, st.mark); err != nil {
		return fmt.Errorf("gossip: save synced mark of %s: %w", ns, err)
	}
	st.saved = st.mark
	return nil
}

// progress fills in p's pull-first state of ns.
func (f *freshness) progress(ns string, p *Progress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st := f.mu.ns[ns]; st != nil {
		p.PullFirst, p.Synced = st.pullFirst, st.mark
	}
}

// pullFirst is one round's plan in a namespace this peer pulls first in:
// its states older than the horizon are withheld, and those the peer
// neither sent nor holds are stale. A nil *pullFirst offers everything.
// Used by one round's goroutine(s) in turn, never at once.
type pullFirst struct {
	horizon  crdt.Timestamp
	withheld []storage.Item
	received map[string]struct{} // type byte ‖ key of every state the peer sent
	held     map[uint64]struct{} // fingerprints the peer holds (Outcome.Held)
}

// withhold reports whether a state of ours is not to be offered: a
// register older than the horizon (only registers have tombstones).
func (pf *pullFirst) withhold(it storage.Item, state crdt.State) bool {
	if pf == nil || noPullFirst {
		return false
	}
	r, ok := state.(crdt.Register)
	if !ok || r.Time >= pf.horizon {
		return false
	}
	it.Key = append([]byte(nil), it.Key...)
	pf.withheld = append(pf.withheld, it)
	return true
}

// setHeld records the fingerprints of streamed items the peer holds.
func (pf *pullFirst) setHeld(fps []uint64) {
	if pf == nil {
		return
	}
	pf.held = make(map[uint64]struct{}, len(fps))
	for _, fp := range fps {
		pf.held[fp] = struct{}{}
	}
}

// noteReceived records the keys of states the peer sent.
func (pf *pullFirst) noteReceived(deltas []wire.Delta) {
	if pf == nil {
		return
	}
	if pf.received == nil {
		pf.received = make(map[string]struct{})
	}
	for _, d := range deltas {
		pf.received[typedKey(d.State.Type(), d.Key)] = struct{}{}
	}
}

// stale returns the withheld states the peer neither sent nor holds.
func (pf *pullFirst) stale() []storage.Item {
	var out []storage.Item
	for _, it := range pf.withheld {
		if _, ok := pf.received[typedKey(it.Type, it.Key)]; ok {
			continue
		}
		if _, ok := pf.held[it.Fingerprint]; ok {
			continue
		}
		out = append(out, it)
	}
	return out
}

func typedKey(typ crdt.Type, key []byte) string { return string(append([]byte{byte(typ)}, key...)) }

// reconcileNamespace runs ns's part of a round under the rejoin rule:
// begin, the exchange (withholding if pulling first), then done.
func (s *Syncer) reconcileNamespace(ctx context.Context, c *frameConn, from libp2ppeer.ID, ns string, initiator bool, st *NamespaceStats, peerMarks map[string]int64) error {
	pf := s.fresh.begin(ns)
	if err := s.syncNamespace(ctx, c, from, ns, initiator, st, pf); err != nil {
		return err
	}
	if st.Deferred {
		// Streams were declined one way: this round did not pull all the
		// peer has (no mark, no stale drop) or did not push all of ours.
		return nil
	}
	mark, ok := peerMarks[ns]
	n, err := s.fresh.done(ns, from, mark, ok, pf)
	st.StaleDropped = n
	return err
}
