package peer

import (
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/libp2p/go-libp2p/core/peer"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

// TestDiscoveryBacksOffWhenSatisfied: below the connection manager's low
// watermark a discovery round advertises the rendezvous and looks it up
// (two DHT lookups counted in grapevine_discovery_lookups_total) and the
// next comes one DiscoveryInterval later; at or above it, a round only
// advertises (one lookup) and the next comes satisfiedBackoff intervals
// later, so that a large network does not make the rendezvous a hotspot.
// The peer under test is not started: the test runs its rounds itself.
func TestDiscoveryBacksOffWhenSatisfied(t *testing.T) {
	a := startPeer(t, testConfig(t, t.TempDir()))
	cfg := testConfig(t, t.TempDir())
	cfg.DiscoveryInterval = time.Hour
	cfg.LowWater = 1
	b := newPeer(t, cfg)
	if err := b.Host().Connect(t.Context(), peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyWithin(t, 20*time.Second, "a in b's routing table", func() bool { return b.dht.RoutingTable().Size() > 0 })

	round := func(want float64, lo, hi time.Duration) {
		t.Helper()
		before := promtest.ToFloat64(b.lookups)
		b.discoverOnce(t.Context())
		if got := promtest.ToFloat64(b.lookups) - before; got != want {
			t.Errorf("a round with %d connections and LowWater %d made %v DHT lookups, want %v", len(b.Host().Network().Peers()), b.cfg.LowWater, got, want)
		}
		if next := b.nextRound(); next < lo || next >= hi {
			t.Errorf("with %d connections and LowWater %d the next round is in %s, want [%s, %s)", len(b.Host().Network().Peers()), b.cfg.LowWater, next, lo, hi)
		}
	}
	// One connection, LowWater 1: satisfied.
	round(1, 4*48*time.Minute, 4*72*time.Minute)
	// LowWater 3: wants peers.
	b.cfg.LowWater = 3
	round(2, 48*time.Minute, 72*time.Minute)
}
