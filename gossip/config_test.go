package gossip

import (
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/wire"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

func TestDefaultConfigsValid(t *testing.T) {
	if err := testPushConfig().Validate(); err != nil {
		t.Errorf("default push config (with a network): %v", err)
	}
	if err := testSyncConfig().Validate(); err != nil {
		t.Errorf("default sync config (with a network): %v", err)
	}
	if c := DefaultPushConfig(); c.MaxBatchBytes != wire.GossipBatchTarget || c.MaxMessageBytes != wire.MaxGossipMessage {
		t.Errorf("push defaults %d/%d are not wire's limits", c.MaxBatchBytes, c.MaxMessageBytes)
	}
}

// Validate lists every problem, not just the first.
func TestValidateListsEveryProblem(t *testing.T) {
	err := PushConfig{MaxMessageBytes: wire.MaxBatchSize + 1}.Validate()
	wantAll(t, err, "gossip: invalid push config: ", "network", "max message bytes", "max batch bytes", "logger")

	pc := testPushConfig()
	pc.MaxBatchBytes = pc.MaxMessageBytes + 1
	wantAll(t, pc.Validate(), "gossip: invalid push config: ", "exceeds max message bytes")

	err = SyncConfig{ChunkBytes: wire.MaxFrameSize}.Validate()
	wantAll(t, err, "gossip: invalid sync config: ", "network", "interval", "max incoming", "chunk bytes", "idle timeout", "namespace check", "logger")
}

func wantAll(t *testing.T, err error, prefix string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one naming %q", parts)
	}
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("error %q lacks prefix %q", err, prefix)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %q", err, p)
		}
	}
}

// The constructors refuse an invalid config rather than fill it in.
func TestConstructorsValidate(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	h, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	if p, err := NewPush(h, PushConfig{Network: "test"}, nil); err == nil {
		_ = p.Close()
		t.Error("NewPush accepted a config without limits or logger")
	}
	if s, err := NewSyncer(h, openStore(t), nil, SyncConfig{}); err == nil {
		_ = s.Close()
		t.Error("NewSyncer accepted a zero config")
	}
}
