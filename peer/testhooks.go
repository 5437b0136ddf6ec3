package peer

import "time"

// Test hooks: everything in package peer that exists only for tests lives
// here, and every name ends in ForTest. Production code never calls these.

// setMDNSForTest makes p start mDNS with start instead of the mdns package.
// For tests only: the test sandbox's only multicast interface is not
// loopback, so tests stand in a fake that reports finds by hand. Call it
// before Start.
func (p *Peer) setMDNSForTest(start mdnsStarter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.startMDNS = start
}

// setSaveDelayForTest shortens the debounce of peers.json writes, so a test
// sees the file soon after a change. For tests only; call it before Start.
func (p *Peer) setSaveDelayForTest(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.saveDelay = d
}

// setAllowPollForTest shortens the period of the allowlist file checks, so
// a test sees a rewritten file applied soon. For tests only; call it before
// Start.
func (p *Peer) setAllowPollForTest(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.allowPoll = d
}
