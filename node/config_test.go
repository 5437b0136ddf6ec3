package node_test

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

func TestDefaultConfigNeedsOnlyADataDir(t *testing.T) {
	cfg := node.DefaultConfig()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "DataDir") {
		t.Fatalf("Validate without DataDir = %v, want it to ask for one", err)
	}
	cfg.DataDir = t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate with DataDir: %v", err)
	}
	if err := nodetest.Config(t).Validate(); err != nil {
		t.Fatalf("nodetest.Config: %v", err)
	}
}

// TestValidateListsEveryProblem: one call names every bad field, the
// node's own and the sub-configs' alike.
func TestValidateListsEveryProblem(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MaxValueSize = 0
	cfg.MaxDrift = -time.Second
	cfg.Storage.TombstoneGrace = 0
	cfg.Peer.DiscoveryInterval = 0
	cfg.AntiEntropy.Interval = 0
	cfg.Gossip.MaxBatchBytes = -1
	cfg.Network = "no/slash"
	err := cfg.Validate()
	for _, want := range []string{"max value size", "max drift", "TombstoneGrace", "DiscoveryInterval", "invalid sync config", "invalid push config", `network name "no/slash"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to mention %q", err, want)
		}
	}
}

// TestOwnedFieldsAreNotOverwritten: a sub-config field the node owns, set
// to something other than the node's value, is refused rather than
// silently replaced.
func TestOwnedFieldsAreNotOverwritten(t *testing.T) {
	other := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, edit := range map[string]func(*node.Config){
		"Peer.DataDir":   func(c *node.Config) { c.Peer.DataDir = "/elsewhere" },
		"Peer.Network":   func(c *node.Config) { c.Peer.Network = "other" },
		"Peer.Logger":    func(c *node.Config) { c.Peer.Logger = other },
		"Storage.Logger": func(c *node.Config) { c.Storage.Logger = other },
		"Storage.Now":    func(c *node.Config) { c.Storage.Now = time.Now },
		"Gossip.Network": func(c *node.Config) { c.Gossip.Network = "other" },
		"Gossip.CheckTime": func(c *node.Config) {
			c.Gossip.CheckTime = func(crdt.Timestamp) error { return nil }
		},
		"AntiEntropy.Logger":  func(c *node.Config) { c.AntiEntropy.Logger = other },
		"AntiEntropy.OnRound": func(c *node.Config) { c.AntiEntropy.OnRound = func(gossip.RoundStats) {} },
	} {
		cfg := nodetest.Config(t)
		edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), name+" is set by the node") {
			t.Errorf("%s set: Validate = %v, want a conflict naming it", name, err)
		}
		if _, err := node.New(t.Context(), cfg); !errors.Is(err, node.ErrInvalidConfig) {
			t.Errorf("%s set: New = %v, want node.ErrInvalidConfig", name, err)
		}
	}
	// The same value as the node's is no conflict.
	cfg := nodetest.Config(t)
	cfg.Peer.DataDir, cfg.Peer.Network = cfg.DataDir, cfg.Network
	if err := cfg.Validate(); err != nil {
		t.Errorf("sub-config fields equal to the node's: %v", err)
	}
}
