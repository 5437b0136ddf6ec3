package peer

import (
	"slices"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestBlockUnblockIsolate(t *testing.T) {
	a := startPeer(t, testConfig(t, t.TempDir()))
	b := startPeer(t, testConfig(t, t.TempDir(), addrWith(t, a, "/tcp/")))
	testutil.EventuallyWithin(t, 10*time.Second, "b connected to a", func() bool { return connected(a, b) && connected(b, a) })
	infoA := peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}

	a.Block(b.ID())
	if got := a.Blocked(); !slices.Equal(got, []peer.ID{b.ID()}) {
		t.Fatalf("Blocked = %v, want [%s]", got, b.ID())
	}
	testutil.EventuallyWithin(t, 5*time.Second, "a and b disconnected", func() bool { return !connected(a, b) && !connected(b, a) })
	// b's dial may complete its side of the handshake before a refuses it,
	// so what counts is that the connection does not survive.
	_ = b.Host().Connect(t.Context(), infoA)
	testutil.EventuallyWithin(t, 5*time.Second, "b's connection refused by a", func() bool { return !connected(a, b) && !connected(b, a) })
	if err := a.Host().Connect(t.Context(), peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err == nil {
		t.Fatal("a could dial b, which it blocks")
	}

	a.Unblock(b.ID())
	if got := a.Blocked(); len(got) != 0 {
		t.Fatalf("Blocked after Unblock = %v", got)
	}
	b.Redial(t.Context())
	testutil.EventuallyWithin(t, 10*time.Second, "reconnected after Unblock", func() bool { return connected(a, b) })

	a.Isolate(true)
	if !a.Isolated() {
		t.Fatal("Isolated() = false after Isolate(true)")
	}
	testutil.EventuallyWithin(t, 5*time.Second, "disconnected by Isolate", func() bool { return !connected(a, b) && !connected(b, a) })
	_ = b.Host().Connect(t.Context(), infoA)
	testutil.EventuallyWithin(t, 5*time.Second, "b's connection refused by isolated a", func() bool { return !connected(a, b) && !connected(b, a) })
	if err := a.Host().Connect(t.Context(), peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err == nil {
		t.Fatal("isolated a could dial b")
	}
	a.Block(b.ID())
	a.UnblockAll()
	if a.Isolated() || len(a.Blocked()) != 0 {
		t.Fatalf("UnblockAll left isolated=%v blocked=%v", a.Isolated(), a.Blocked())
	}
	b.Redial(t.Context())
	testutil.EventuallyWithin(t, 10*time.Second, "reconnected after UnblockAll", func() bool { return connected(a, b) })
}
