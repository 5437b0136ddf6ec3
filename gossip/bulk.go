package gossip

import (
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"

	"github.com/grapevine-kv/grapevine/internal/wire"
)

// This file makes a bulk transfer happen once: a peer receives states of a
// namespace from one peer at a time, so that a new peer connected to many
// peers downloads the store once, not once per peer.
//
// After a namespace's reconciliation, each side of a round whose peer also
// speaks plans (hello field 4, wire.AppendHelloPlans) takes the namespace's
// receiving lock if it is free, then sends its plan (wire.FramePlan): it
// declines if the lock is held by another round, and says whether it has
// states to send. Both sides write their plan before reading the peer's,
// so no round trip is added. A side that declines is sent no state of the
// namespace in this round (neither streamed ranges nor item-level
// differences: during a bootstrap both are states the round holding the
// lock delivers anyway); states still flow the other way. If the peer had
// states to send, the namespace is deferred: not clean, no synced mark and
// no stale drop this round, and the peer is triggered (Trigger) once the
// lock is released, so a later round picks up what the bulk transfer left
// over: usually nothing. A side keeps the lock while it receives, and
// releases it at once if the peer sends nothing.
//
// A plan is as old as the reconciliation it follows: the peer's outcome
// was computed from this side's index as it was when the namespace's
// reconciliation began. If another round received states of the
// namespace meanwhile (it held the lock and released it before this plan),
// that outcome lists states this side now holds, and taking the lock would
// receive them twice. So each namespace counts the receives completed
// under its lock (its generation); a round notes the generation before it
// reads its index, and declines (and defers the peer, which is triggered
// at once) if the generation moved: the next round reconciles afresh.
//
// Rounds with a peer of an older version (no field 4) exchange no plan and
// take no lock.

// bulkLock is a namespace's receiving lock; guarded by Syncer.mu.
type bulkLock struct {
	deferred map[libp2ppeer.ID]struct{} // peers whose states were declined meanwhile
}

// bulkGeneration returns ns's generation: how many rounds have released
// its receiving lock after receiving. A round notes it before it reads its
// index (see tryReceive).
func (s *Syncer) bulkGeneration(ns string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.generation[ns]
}

// receiving is a held receiving lock.
type receiving struct {
	s    *Syncer
	ns   string
	lock *bulkLock
}

// tryReceive takes ns's receiving lock for a round that read its index at
// generation gen. It fails if another round holds the lock, or has
// received states of ns since gen (the round's reconciliation is stale).
func (s *Syncer) tryReceive(ns string, gen uint64) (*receiving, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.receiving[ns] != nil || s.mu.generation[ns] != gen {
		return nil, false
	}
	l := &bulkLock{deferred: make(map[libp2ppeer.ID]struct{})}
	s.mu.receiving[ns] = l
	return &receiving{s: s, ns: ns, lock: l}, true
}

// release frees the lock; received tells whether the round may have
// received states under it (then ns's generation moves on). It triggers
// the peers deferred meanwhile (deferPeer).
func (r *receiving) release(received bool) {
	s := r.s
	s.mu.Lock()
	delete(s.mu.receiving, r.ns)
	if received {
		s.mu.generation[r.ns]++
	}
	s.mu.Unlock()
	for p := range r.lock.deferred {
		s.Trigger(p)
	}
}

// deferPeer asks for a round with p once ns's receiving lock is released
// (at once if it already is).
func (s *Syncer) deferPeer(ns string, p libp2ppeer.ID) {
	s.mu.Lock()
	if l := s.mu.receiving[ns]; l != nil {
		l.deferred[p] = struct{}{}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.Trigger(p)
}

// plans is the outcome of a namespace's plan exchange.
type plans struct {
	lock         *receiving // the receiving lock, if held: release(true) when done
	declined     bool       // this side declined the peer's states
	peerDeclined bool       // the peer declined this side's states
	deferred     bool       // states that were to flow one way were declined
}

// exchangePlans sends this side's plan of ns and reads the peer's, if both
// sides speak plans (c.plans); gen is ns's generation noted before the
// reconciliation read the index, and sending tells whether this side has
// states to send. On error the lock is released.
func (s *Syncer) exchangePlans(c *frameConn, ns string, from libp2ppeer.ID, gen uint64, sending bool) (plans, error) {
	var pl plans
	if !c.plans {
		return pl, nil
	}
	lock, ok := s.tryReceive(ns, gen)
	pl.declined = !ok
	fail := func(err error) (plans, error) {
		if lock != nil {
			lock.release(false)
		}
		return plans{}, err
	}
	if err := c.write(wire.FramePlan, wire.AppendPlan(nil, wire.Plan{Decline: pl.declined, Sending: sending})); err != nil {
		return fail(err)
	}
	if err := c.flush(); err != nil {
		return fail(err)
	}
	p, err := c.expect(wire.FramePlan)
	if err != nil {
		return fail(err)
	}
	peer, err := wire.UnmarshalPlan(p)
	if err != nil {
		return fail(protocolErr("%w", err))
	}
	pl.peerDeclined = peer.Decline
	if !peer.Sending && lock != nil {
		lock.release(false) // nothing to receive: free the lock for another round
		lock = nil
	}
	pl.lock = lock
	if pl.declined && peer.Sending {
		pl.deferred = true
		s.deferPeer(ns, from)
	}
	if pl.peerDeclined && sending {
		pl.deferred = true
	}
	return pl, nil
}
