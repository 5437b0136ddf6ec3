package gossip

import (
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"

	"github.com/grapevine-kv/grapevine/internal/wire"
)

// This file makes a bulk transfer happen once: a peer receives streamed
// (whole-range) states of a namespace from one peer at a time.
//
// After a namespace's reconciliation, each side of a round whose peer also
// speaks plans (hello field 4, wire.AppendHelloPlans) sends a plan
// (wire.FramePlan) before any state. A side the peer is about to stream
// ranges to takes the namespace's receiving lock; if another round holds it
// (that round is already streaming the namespace here), the side declines
// this round's states: the peer sends it none of the namespace in this
// round (neither streams nor item-level differences, which during a
// bootstrap are mostly states the locked round is delivering anyway), and
// the namespace is left unsynced this round (not clean; no synced mark, no
// stale drop). States still flow the other way. When the lock is released, the peers
// whose streams were declined are triggered (Trigger), so that a later
// round picks up what the bulk transfer left over: usually nothing.
// A stream the lister side of an item list was not told about
// (reconcile.Outcome.Held) is small and is not locked.

// bulkLock is a namespace's receiving lock; guarded by Syncer.mu.
type bulkLock struct {
	peer     libp2ppeer.ID
	deferred map[libp2ppeer.ID]struct{} // peers whose streams were declined meanwhile
}

// tryReceive takes ns's receiving lock for a round with p. It returns the
// release function, or false if another round holds the lock (p is then
// triggered once the lock is released).
func (s *Syncer) tryReceive(ns string, p libp2ppeer.ID) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.mu.receiving[ns]; l != nil {
		l.deferred[p] = struct{}{}
		return nil, false
	}
	l := &bulkLock{peer: p, deferred: make(map[libp2ppeer.ID]struct{})}
	s.mu.receiving[ns] = l
	return func() {
		s.mu.Lock()
		delete(s.mu.receiving, ns)
		s.mu.Unlock()
		for q := range l.deferred {
			s.Trigger(q)
		}
	}, true
}

// exchangePlans sends this side's plan of ns and reads the peer's, if both
// sides speak plans (c.plans). receiving tells whether the peer is about to
// stream ranges to this side. It returns the release of the receiving lock
// (nil if not taken), whether this side declined the peer's streams, and
// whether the peer declined this side's states.
func (s *Syncer) exchangePlans(c *frameConn, ns string, from libp2ppeer.ID, receiving bool) (release func(), declined, peerDeclined bool, err error) {
	if !c.plans {
		return nil, false, false, nil
	}
	if receiving {
		var ok bool
		release, ok = s.tryReceive(ns, from)
		declined = !ok
	}
	fail := func(err error) (func(), bool, bool, error) {
		if release != nil {
			release()
		}
		return nil, false, false, err
	}
	if err := c.write(wire.FramePlan, wire.AppendPlan(nil, declined)); err != nil {
		return fail(err)
	}
	if err := c.flush(); err != nil {
		return fail(err)
	}
	p, err := c.expect(wire.FramePlan)
	if err != nil {
		return fail(err)
	}
	if peerDeclined, err = wire.UnmarshalPlan(p); err != nil {
		return fail(protocolErr("%w", err))
	}
	return release, declined, peerDeclined, nil
}
