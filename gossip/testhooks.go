package gossip

// This file holds the package's only test-only API. Nothing in production
// calls it; each name ends in ForTest.

// SetDropAllForTest, when on, makes this peer ignore every remote gossip
// message, leaving replication to anti-entropy alone. For tests only.
func (p *Push) SetDropAllForTest(on bool) { p.dropAll.Store(on) }
