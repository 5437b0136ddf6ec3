package reconcile

import (
	"errors"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

func mustMarshal(t *testing.T, m Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// running returns a responder past its first message with the given open
// questions, over a small index.
func running(t *testing.T, open ...question) *Session {
	t.Helper()
	a, _ := genPair(pairSpec{n: 40, seed: 5})
	s, err := NewResponder(indexOf(a, false), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s.phase = phaseRunning
	s.open.push(open...)
	return s
}

func summaryQ(level uint8, index uint64, count uint64) question {
	var h uint64
	if count > 0 {
		h = 99
	}
	return question{node: node{level, index}, sum: Summary{Count: count, Hash: h}}
}

func listQ(level uint8, index uint64, fps ...uint64) question {
	return question{node: node{level, index}, list: true, fps: fps}
}

func TestHostileMessagesEndTheSession(t *testing.T) {
	fresh := func(t *testing.T) *Session {
		s, err := NewResponder(indexOf(replica{}, false), DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	leafQ := summaryQ(rangetree.LeafLevel, 7, 5)
	cases := []struct {
		name  string
		setup func(*testing.T) *Session
		msg   Message
		raw   []byte
	}{
		{name: "first message without root", setup: fresh, msg: Message{}},
		{name: "first message acknowledges", setup: fresh, msg: Message{Ack: 1, Root: &Summary{}}},
		{name: "first message answers", setup: fresh, msg: Message{Root: &Summary{}, Responses: []Response{{Kind: KindStreamToMe}}}},
		{name: "garbage", setup: fresh, raw: []byte{0xff, 0xff, 0xff}},
		{name: "too big", setup: fresh, raw: make([]byte, MaxMessageSize+1)},
		{name: "root again", setup: func(t *testing.T) *Session { return running(t, summaryQ(0, 0, 5)) },
			msg: Message{Ack: 1, Root: &Summary{}}},
		{name: "acknowledges more than open", setup: func(t *testing.T) *Session { return running(t, summaryQ(0, 0, 5)) },
			msg: Message{Ack: 2}},
		{name: "acknowledges nothing", setup: func(t *testing.T) *Session { return running(t, summaryQ(0, 0, 5)) },
			msg: Message{Ack: 0}},
		{name: "answers beyond ack", setup: func(t *testing.T) *Session { return running(t, summaryQ(1, 0, 5), summaryQ(1, 1, 5)) },
			msg: Message{Ack: 1, Responses: []Response{{Skip: 1, Kind: KindStreamToMe}}}},
		{name: "two answers to one question", setup: func(t *testing.T) *Session { return running(t, summaryQ(0, 0, 5)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindStreamToMe}, {Kind: KindStreamToMe}}}},
		{name: "huge skip", setup: func(t *testing.T) *Session { return running(t, summaryQ(0, 0, 5)) },
			msg: Message{Ack: 1, Responses: []Response{{Skip: 1 << 63, Kind: KindStreamToMe}}}},
		{name: "need answers a summary", setup: func(t *testing.T) *Session { return running(t, summaryQ(0, 0, 5)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindNeed, Need: []uint32{0}}}}},
		{name: "children of a leaf", setup: func(t *testing.T) *Session { return running(t, leafQ) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindChildren, Children: make([]Summary, rangetree.Fanout)}}}},
		{name: "children of an empty range", setup: func(t *testing.T) *Session { return running(t, summaryQ(1, 3, 0)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindChildren, Children: make([]Summary, rangetree.Fanout)}}}},
		{name: "streaming where this side has items", setup: func(t *testing.T) *Session { return running(t, summaryQ(2, 9, 5)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindStreaming, Count: 3}}}},
		{name: "stream-to-me where this side is empty", setup: func(t *testing.T) *Session { return running(t, summaryQ(2, 9, 0)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindStreamToMe}}}},
		{name: "stream-both where this side is empty", setup: func(t *testing.T) *Session { return running(t, summaryQ(2, 9, 0)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindStreamBoth, Count: 3}}}},
		{name: "items answer an item list", setup: func(t *testing.T) *Session { return running(t, listQ(3, 1, 10, 20)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindItems, Fingerprints: []uint64{1}}}}},
		{name: "children answer an item list", setup: func(t *testing.T) *Session { return running(t, listQ(3, 1, 10, 20)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindChildren, Children: make([]Summary, rangetree.Fanout)}}}},
		{name: "need beyond the list", setup: func(t *testing.T) *Session { return running(t, listQ(3, 1, 10, 20, 30)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindNeed, Need: []uint32{1, 3}}}}},
		{name: "need from an empty list", setup: func(t *testing.T) *Session { return running(t, listQ(3, 1)) },
			msg: Message{Ack: 1, Responses: []Response{{Kind: KindNeed, Need: []uint32{0}}}}},
		{name: "valid answer, then a bad one", setup: func(t *testing.T) *Session {
			return running(t, summaryQ(1, 0, 5), summaryQ(1, 1, 0), listQ(1, 2, 7))
		}, msg: Message{Ack: 3, Responses: []Response{
			{Kind: KindStreamToMe}, {Kind: KindStreaming, Count: 4}, {Kind: KindNeed, Need: []uint32{1}},
		}}},
		{name: "questions outgrow the limit", setup: func(t *testing.T) *Session {
			s := running(t, summaryQ(1, 0, 5))
			s.inbox.weight = maxPending - 2
			return s
		}, msg: Message{Ack: 1, Responses: []Response{{Kind: KindItems, Fingerprints: []uint64{1, 2}}}}},
		{name: "too many messages", setup: func(t *testing.T) *Session {
			s := running(t, summaryQ(0, 0, 5))
			s.stats.MessagesReceived = MaxMessages
			return s
		}, msg: Message{Ack: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.setup(t)
			in := c.raw
			if in == nil {
				in = mustMarshal(t, c.msg)
			}
			reply, done, err := s.Handle(in)
			if !errors.Is(err, ErrMalformed) || reply != nil || done {
				t.Fatalf("got %x %v %v, want ErrMalformed", reply, done, err)
			}
			t.Logf("%v", err)
			if o := s.TakeOutcome(); !o.Empty() {
				t.Fatalf("a rejected message changed the outcome: %+v", o)
			}
			if _, _, err2 := s.Handle(mustMarshal(t, Message{Ack: 1})); err2 != err {
				t.Fatalf("session goes on after an error: %v", err2)
			}
		})
	}
}

// TestHostileSummariesAreHarmless: a peer may claim anything in its
// summaries and lists; the session answers from its own index and sends
// no more than it holds.
func TestHostileSummariesAreHarmless(t *testing.T) {
	a, _ := genPair(pairSpec{n: 300, seed: 8})
	s, err := NewResponder(indexOf(a, false), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	huge := Summary{Count: 1<<64 - 1, Hash: 1}
	reply, done, err := s.Handle(mustMarshal(t, Message{Root: &huge}))
	if err != nil || done {
		t.Fatalf("%v %v", done, err)
	}
	m, err := Unmarshal(reply)
	if err != nil || len(m.Responses) != 1 || m.Responses[0].Kind != KindChildren {
		t.Fatalf("reply %+v %v", m, err)
	}
	// Answer every child with a list of junk.
	resps := make([]Response, rangetree.Fanout)
	for i := range resps {
		resps[i] = Response{Kind: KindItems, Fingerprints: []uint64{uint64(i), 1 << 60}}
	}
	reply, _, err = s.Handle(mustMarshal(t, Message{Ack: rangetree.Fanout, Responses: resps}))
	if err != nil {
		t.Fatal(err)
	}
	m, err = Unmarshal(reply)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.Responses {
		if r.Kind != KindNeed || len(r.Need) != 2 {
			t.Fatalf("want both junk items needed, got %+v", r)
		}
	}
	o := s.TakeOutcome()
	covered := len(o.Send)
	for _, it := range a {
		for _, r := range o.Stream {
			if r.Contains(it.Hash) {
				covered++
			}
		}
	}
	if covered != len(a) {
		t.Fatalf("sends or streams %d of %d items", covered, len(a))
	}
}

// TestKeysAreCopied: the index may reuse a key's memory after Items
// returns; the outcome must not change with it.
func TestKeysAreCopied(t *testing.T) {
	key := []byte("k1")
	ix := &reusingIndex{item: Item{Hash: 5, Fingerprint: 7, Type: crdt.TypeRegister, Key: key}}
	b := replica{}
	b.merge(Item{Hash: 5, Fingerprint: 8, Type: crdt.TypeRegister, Key: []byte("k1")})
	x, err := runSession(ix, indexOf(b, false), DefaultConfig(), DefaultConfig(), false)
	if err != nil {
		t.Fatal(err)
	}
	copy(key, "zz")
	if len(x.outA.Send) != 1 || string(x.outA.Send[0].Key) != "k1" {
		t.Fatalf("send %+v", x.outA.Send)
	}
}

type reusingIndex struct{ item Item }

func (r *reusingIndex) Summarize(lo, hi uint64) Summary {
	if r.item.Hash < lo || r.item.Hash > hi {
		return Summary{}
	}
	return Summary{Count: 1, Hash: r.item.Fingerprint}
}

func (r *reusingIndex) Items(lo, hi uint64, fn func(Item) error) error {
	if r.item.Hash < lo || r.item.Hash > hi {
		return nil
	}
	return fn(r.item)
}
