package gossip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/internal/wire"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// inbox collects delivered batches.
type inbox struct {
	mu      sync.Mutex
	batches []wire.Batch
	gate    atomic.Pointer[chan struct{}] // if set, deliver waits for it (a busy node)
}

func (in *inbox) deliver(_ libp2ppeer.ID, b wire.Batch) {
	if g := in.gate.Load(); g != nil {
		<-*g
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.batches = append(in.batches, b)
}

// has reports whether a delta of key in namespace ns was delivered.
func (in *inbox) has(ns, key string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, b := range in.batches {
		for _, d := range b.Deltas {
			if b.Namespace == ns && string(d.Key) == key {
				return true
			}
		}
	}
	return false
}

// deltas counts delivered deltas, not counting warm-up probes.
func (in *inbox) deltas() int { return in.count(false) }

// hasProbe reports whether the warm-up probe of sender i arrived.
func (in *inbox) hasProbe(i int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, b := range in.batches {
		for _, d := range b.Deltas {
			if string(d.Key) == fmt.Sprint("probe", i) {
				return true
			}
		}
	}
	return false
}

func (in *inbox) count(probes bool) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, b := range in.batches {
		for _, d := range b.Deltas {
			if strings.HasPrefix(string(d.Key), "probe") == probes {
				n++
			}
		}
	}
	return n
}

// testNetwork is the network of the tests' push and sync configs.
const testNetwork = "test"

func testPushConfig() PushConfig {
	cfg := DefaultPushConfig()
	cfg.Network = testNetwork
	return cfg
}

func makePushes(t *testing.T, n int, cfg PushConfig) ([]*Push, []*inbox, mocknet.Mocknet) {
	t.Helper()
	mn, err := mocknet.FullMeshConnected(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mn.Close() })
	var pushes []*Push
	var inboxes []*inbox
	for _, h := range mn.Hosts() {
		in := &inbox{}
		p, err := NewPush(h, cfg, in.deliver)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		if err := p.Join("default"); err != nil {
			t.Fatal(err)
		}
		pushes, inboxes = append(pushes, p), append(inboxes, in)
	}
	warmUp(t, pushes, inboxes)
	return pushes, inboxes, mn
}

// warmUp publishes probes from every push until every other one has
// received one: GossipSub drops what is published before its router has
// taken a new peer in, even once the peer's subscription is visible.
func warmUp(t *testing.T, pushes []*Push, inboxes []*inbox) {
	t.Helper()
	for i, p := range pushes {
		probe := []wire.Delta{{Key: []byte(fmt.Sprint("probe", i)), State: reg("probe")}}
		testutil.Eventually(t, "probe delivery", func() bool {
			if _, err := p.Publish(context.Background(), "default", probe); err != nil {
				t.Fatal(err)
			}
			for j, in := range inboxes {
				if j != i && !in.hasProbe(i) {
					return false
				}
			}
			return true
		})
	}
}

func reg(v string) crdt.Register {
	return crdt.Register{Time: crdt.NewTimestamp(time.Now().UnixMilli(), 0), Origin: "o", Value: []byte(v)}
}

func TestPublishReachesAllAndSplits(t *testing.T) {
	cfg := testPushConfig()
	cfg.MaxBatchBytes = 1024
	pushes, inboxes, _ := makePushes(t, 3, cfg)
	var deltas []wire.Delta
	for i := range 40 {
		deltas = append(deltas, wire.Delta{Key: []byte{byte('a' + i%26), byte(i)}, State: reg(string(make([]byte, 100)))})
	}
	before := pushes[0].Stats().Published
	if _, err := pushes[0].Publish(context.Background(), "default", deltas); err != nil {
		t.Fatal(err)
	}
	if got := pushes[0].Stats().Published - before; got < 4 {
		t.Errorf("published %d messages for 40×~120 B at 1 KiB each, want ≥ 4", got)
	}
	for i := 1; i < 3; i++ {
		testutil.Eventually(t, "delivery", func() bool { return inboxes[i].deltas() == len(deltas) })
	}
	if inboxes[0].deltas() != 0 {
		t.Error("publisher delivered its own batch to itself")
	}
}

func TestValidatorRejects(t *testing.T) {
	future := errors.New("too far ahead")
	cfg := testPushConfig()
	cfg.CheckTime = func(ts crdt.Timestamp) error {
		if ts.Millis() > time.Now().Add(time.Minute).UnixMilli() {
			return future
		}
		return nil
	}
	pushes, inboxes, mn := makePushes(t, 2, cfg)

	// A rogue peer publishes raw bytes on the topic with a plain GossipSub.
	ctx := t.Context()
	topic := rogueTopic(t, mn, TopicName("test", "default"))
	defer topic.Close()
	testutil.Eventually(t, "rogue sees topic peers", func() bool { return len(topic.ListPeers()) == 2 })

	farFuture := crdt.Register{Time: crdt.NewTimestamp(time.Now().Add(time.Hour).UnixMilli(), 0), Origin: "o", Value: []byte("x")}
	bad := [][]byte{
		{0xff, 0x01},
		wire.Batch{Namespace: "other", Deltas: []wire.Delta{{Key: []byte("k"), State: reg("v")}}}.Marshal(),
		wire.Batch{Namespace: "default", Deltas: []wire.Delta{{Key: []byte("k"), State: farFuture}}}.Marshal(),
	}
	for _, m := range bad {
		if err := topic.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	good := wire.Batch{Namespace: "default", Deltas: []wire.Delta{{Key: []byte("ok"), State: reg("v")}}}.Marshal()
	if err := topic.Publish(ctx, good); err != nil {
		t.Fatal(err)
	}
	for i, p := range pushes {
		testutil.Eventually(t, "good message", func() bool { return inboxes[i].deltas() == 1 })
		testutil.Eventually(t, "rejections", func() bool { return p.Stats().Rejected == uint64(len(bad)) })
	}
}

// TestAnnouncements: the first batch published in a namespace goes on the
// namespaces topic and reaches peers that never joined the namespace; a
// rogue's announcements are validated like a namespace's messages (name
// rules, a state at least, clock check) and refused otherwise.
func TestAnnouncements(t *testing.T) {
	future := errors.New("too far ahead")
	cfg := testPushConfig()
	cfg.CheckTime = func(ts crdt.Timestamp) error {
		if ts.Millis() > time.Now().Add(time.Minute).UnixMilli() {
			return future
		}
		return nil
	}
	pushes, inboxes, mn := makePushes(t, 3, cfg)
	for _, p := range pushes {
		if err := p.JoinAnnouncements(); err != nil {
			t.Fatal(err)
		}
	}
	// Warm the namespaces topic up as warmUp does the default one: GossipSub
	// drops what is published before its router has taken a new peer in,
	// even once the peer's subscription is visible.
	if err := pushes[0].Join("warm"); err != nil {
		t.Fatal(err)
	}
	warm := []wire.Delta{{Key: []byte("warm"), State: reg("warm")}}
	testutil.Eventually(t, "namespaces topic warm-up", func() bool {
		if _, err := pushes[0].Publish(context.Background(), "warm", warm); err != nil {
			t.Fatal(err)
		}
		return inboxes[1].has("warm", "warm") && inboxes[2].has("warm", "warm")
	})
	// Only the publisher joins "fresh": the others get its first batch
	// from the announcement.
	if err := pushes[0].Join("fresh"); err != nil {
		t.Fatal(err)
	}
	first := []wire.Delta{{Key: []byte("first"), State: reg("v")}}
	if _, err := pushes[0].Publish(context.Background(), "fresh", first); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		testutil.Eventually(t, "announced batch", func() bool { return inboxes[i].has("fresh", "first") })
	}

	ctx := t.Context()
	topic := rogueTopic(t, mn, wire.NamespacesTopic(testNetwork))
	defer topic.Close()
	testutil.Eventually(t, "rogue sees topic peers", func() bool { return len(topic.ListPeers()) == 3 })
	farFuture := crdt.Register{Time: crdt.NewTimestamp(time.Now().Add(time.Hour).UnixMilli(), 0), Origin: "o", Value: []byte("x")}
	bad := [][]byte{
		{0xff, 0x01},
		wire.Batch{Namespace: "Not Valid!", Deltas: []wire.Delta{{Key: []byte("k"), State: reg("v")}}}.Marshal(),
		wire.Batch{Namespace: "empty"}.Marshal(),
		wire.Batch{Namespace: "future", Deltas: []wire.Delta{{Key: []byte("k"), State: farFuture}}}.Marshal(),
	}
	// The good announcement first, republished until every push has it
	// (the warm-up of the rogue's new router); then each bad one once.
	good := wire.Batch{Namespace: "rogue-ns", Deltas: []wire.Delta{{Key: []byte("ok"), State: reg("v")}}}.Marshal()
	testutil.Eventually(t, "good announcement", func() bool {
		if err := topic.Publish(ctx, good); err != nil {
			t.Fatal(err)
		}
		for _, in := range inboxes {
			if !in.has("rogue-ns", "ok") {
				return false
			}
		}
		return true
	})
	for _, m := range bad {
		if err := topic.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pushes {
		testutil.Eventually(t, "rejections", func() bool { return p.Stats().Rejected == uint64(len(bad)) })
	}
	if _, err := pushes[0].checkAnnouncement(make([]byte, cfg.MaxMessageBytes+1)); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("oversized announcement: err = %v, want ErrMalformed", err)
	}
}

// rogueTopic adds a plain GossipSub peer to mn, connects it to every peer
// and joins topic with it, for tests that publish raw bytes.
func rogueTopic(t *testing.T, mn mocknet.Mocknet, topic string) *pubsub.Topic {
	t.Helper()
	h, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	if err := mn.ConnectAllButSelf(); err != nil {
		t.Fatal(err)
	}
	ps, err := pubsub.NewGossipSub(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := ps.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// A lone peer sends nothing: signing messages that reach no one cost a
// tenth of its CPU under load. With subscribers they go out
// (TestPublishReachesAllAndSplits).
func TestPublishWithoutListenersSendsNothing(t *testing.T) {
	pushes, _, _ := makePushes(t, 1, testPushConfig())
	lone := pushes[0]
	deltas := []wire.Delta{{Key: []byte("k"), State: reg("v")}}
	if _, err := lone.Publish(context.Background(), "default", deltas); err != nil {
		t.Fatal(err)
	}
	if got := lone.Stats().Published; got != 0 {
		t.Fatalf("a peer with no subscriber published %d messages, want 0", got)
	}
}

// TestBusyReaderLosesNothing: messages that arrive while the node is busy
// (its deliver blocked) wait for it instead of being dropped. With
// GossipSub's default buffer of 32 most of these 300 were lost (counted
// undelivered) and waited for anti-entropy.
func TestBusyReaderLosesNothing(t *testing.T) {
	pushes, inboxes, _ := makePushes(t, 2, testPushConfig())
	sender, receiver, in := pushes[0], pushes[1], inboxes[1]
	gate := make(chan struct{})
	in.gate.Store(&gate)
	handed := receiver.drops.handed.Load()
	const n = 300
	for i := range n {
		d := []wire.Delta{{Key: fmt.Appendf(nil, "k%03d", i), State: reg("v")}}
		if _, err := sender.Publish(context.Background(), "default", d); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "every message reaching the busy receiver", func() bool {
		return receiver.drops.handed.Load()-handed == n
	})
	if s := receiver.Stats(); s.Undelivered != 0 {
		close(gate)
		t.Fatalf("%d of %d messages dropped while the reader was busy", s.Undelivered, n)
	}
	close(gate)
	testutil.Eventually(t, "every message delivered", func() bool { return in.deltas() == n })
}
