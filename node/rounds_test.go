package node_test

import (
	"crypto/rand"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// A failed sync round is logged at Warn with the peer and the reason, once
// a minute per peer, saying how many failures were not logged meanwhile.
func TestFailedRoundsWarnRateLimited(t *testing.T) {
	var logs testutil.Buffer
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	c := nodetest.NewCluster(t, 1, nodetest.Configure(func(_ int, cfg *node.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		cfg.Wall = func() time.Time { return time.UnixMilli(now.Load()) }
		cfg.ManualSync = true
	}))
	// A peer nobody can reach: no background round with it can succeed in
	// between and reset the count (a partitioned real peer could finish a
	// round started before the partition).
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := libp2ppeer.IDFromPublicKey(key.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	warns := func() []string {
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, `msg="sync round failed"`) {
				out = append(out, l)
			}
		}
		return out
	}
	for range 3 {
		if _, err := c.Node(0).SyncWith(t.Context(), other); err == nil {
			t.Fatal("a round across a partition succeeded")
		}
	}
	w := warns()
	if len(w) != 1 || !strings.Contains(w[0], "peer="+other.String()) || !strings.Contains(w[0], "reason=") {
		t.Fatalf("after 3 failed rounds, warnings %q; want one naming the peer and the reason", w)
	}
	now.Add(2 * time.Minute.Milliseconds())
	if _, err := c.Node(0).SyncWith(t.Context(), other); err == nil {
		t.Fatal("a round across a partition succeeded")
	}
	if w := warns(); len(w) != 2 || !strings.Contains(w[1], "not_logged_since_last=2") {
		t.Fatalf("a minute later, warnings %q; want a second one counting the 2 not logged", w)
	}
}
