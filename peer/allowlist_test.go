package peer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// writeAllowlist writes ids, one per line with a comment, to path.
func writeAllowlist(t *testing.T, path string, ids ...peer.ID) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# peers of the test\n\n")
	for _, id := range ids {
		b.WriteString(id.String() + "  # a peer\n")
	}
	// Write then rename, as an editor or a config tool does.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestAllowlist(t *testing.T) {
	// Three peers whose identities exist before the allowlist names them.
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	ids := make([]peer.ID, 3)
	for i, dir := range dirs {
		p := newPeer(t, testConfig(t, dir))
		ids[i] = p.ID()
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	list := filepath.Join(t.TempDir(), "allow")
	writeAllowlist(t, list, ids[1]) // b is listed, c is not
	cfg := testConfig(t, t.TempDir())
	cfg.AllowPeersFile = list
	a := newPeer(t, cfg)
	a.setAllowPollForTest(20 * time.Millisecond)
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	boot := addrWith(t, a, "/tcp/")
	b := startPeer(t, testConfig(t, dirs[1], boot))
	c := startPeer(t, testConfig(t, dirs[2], boot))
	infoA := peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}
	infoC := peer.AddrInfo{ID: c.ID(), Addrs: c.Host().Addrs()}

	testutil.EventuallyWithin(t, 10*time.Second, "listed b connected", func() bool { return connected(a, b) && connected(b, a) })
	// c's dial (its bootstrap) was refused inbound; a's dial to c is
	// refused outbound; both counted.
	testutil.EventuallyWithin(t, 10*time.Second, "c's inbound refused", func() bool {
		return a.Stats().RefusedAllowlist >= 1 && a.Host().Network().Connectedness(c.ID()) != network.Connected
	})
	if err := a.Host().Connect(t.Context(), infoC); err == nil {
		t.Error("a dialled c, which its allowlist does not list")
	}
	before := a.Stats().RefusedAllowlist
	_ = c.Host().Connect(t.Context(), infoA)
	testutil.EventuallyWithin(t, 10*time.Second, "c's second attempt refused and counted", func() bool {
		return a.Stats().RefusedAllowlist > before && !connected(a, c) && c.Host().Network().Connectedness(a.ID()) != network.Connected
	})
	if a.Stats().RefusedNetwork != 0 {
		t.Errorf("allowlist refusals counted as network refusals: %+v", a.Stats())
	}

	// The file is rewritten: c in, b out. b's connection is closed, c gets in.
	writeAllowlist(t, list, ids[2])
	testutil.EventuallyWithin(t, 10*time.Second, "removed b disconnected", func() bool {
		return a.Host().Network().Connectedness(b.ID()) != network.Connected
	})
	testutil.EventuallyWithin(t, 10*time.Second, "added c connects", func() bool {
		_ = c.Host().Connect(t.Context(), infoA)
		return connected(a, c)
	})
	if err := b.Host().Connect(t.Context(), infoA); err == nil {
		testutil.EventuallyWithin(t, 10*time.Second, "removed b refused", func() bool { return !connected(a, b) })
	}

	// A broken file keeps the list in force and reports the line.
	if err := os.WriteFile(list, []byte(ids[2].String()+"\nnot-a-peer-id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := a.ReloadAllowlist()
	if !errors.Is(err, ErrAllowlist) || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "not-a-peer-id") {
		t.Fatalf("ReloadAllowlist of a broken file: %v; want ErrAllowlist naming line 2", err)
	}
	// c is still admitted: connected, or let in again at once if anything
	// else closed its connection meanwhile, and never refused.
	refused := a.Stats().RefusedAllowlist
	testutil.EventuallyWithin(t, 10*time.Second, "listed c still admitted after a broken file", func() bool {
		_ = c.Host().Connect(t.Context(), infoA)
		return connected(a, c)
	})
	if got := a.Stats().RefusedAllowlist; got != refused {
		t.Errorf("a broken allowlist file refused %d connections of a listed peer", got-refused)
	}
}

func TestAllowlistBadFileAtNew(t *testing.T) {
	list := filepath.Join(t.TempDir(), "allow")
	if err := os.WriteFile(list, []byte("# ok\n\nQm-not-an-id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, t.TempDir())
	cfg.AllowPeersFile = list
	_, err := New(t.Context(), cfg)
	if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, ErrAllowlist) || !strings.Contains(err.Error(), list+" line 3") {
		t.Fatalf("New with a bad allowlist: %v; want ErrInvalidConfig and ErrAllowlist naming %s line 3", err, list)
	}
	cfg.AllowPeersFile = filepath.Join(t.TempDir(), "missing")
	if _, err := New(t.Context(), cfg); !errors.Is(err, ErrAllowlist) {
		t.Fatalf("New with a missing allowlist: %v; want ErrAllowlist", err)
	}
}
