package gossip

// This file holds the package's only test-only API. Nothing in production
// calls it; each name ends in ForTest.

// SetDropAllForTest, when on, makes this peer ignore every remote gossip
// message, leaving replication to anti-entropy alone. For tests only.
func (p *Push) SetDropAllForTest(on bool) { p.dropAll.Store(on) }

// setBeforePlanForTest makes f run in every round after a namespace's
// reconciliation and before its plan exchange (bulk.go); nil removes it.
// Unexported: for this package's tests only.
func (s *Syncer) setBeforePlanForTest(f func(ns string)) {
	if f == nil {
		s.beforePlan.Store(nil)
		return
	}
	s.beforePlan.Store(&f)
}
