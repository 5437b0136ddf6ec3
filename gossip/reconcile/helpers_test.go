package reconcile

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

// memIndex is an in-memory Index: items sorted by hash, summaries by brute
// force, or, when built with tree, from a rangetree.Tree (as storage does)
// for leaf-aligned ranges.
type memIndex struct {
	items []Item
	tree  *rangetree.Tree // if built
	// failItems makes Items fail with this error.
	failItems error
}

func itemCmp(a, b Item) int {
	return cmp.Or(cmp.Compare(a.Hash, b.Hash), cmp.Compare(a.Type, b.Type), bytes.Compare(a.Key, b.Key))
}

// newMemIndex indexes items (sorted in place).
func newMemIndex(items []Item, tree bool) *memIndex {
	slices.SortFunc(items, itemCmp)
	m := &memIndex{items: items}
	if tree {
		m.tree = rangetree.New()
		for _, it := range items {
			m.tree.Add(it.Hash, Summary{Count: 1, Hash: it.Fingerprint})
		}
	}
	return m
}

func (m *memIndex) Summarize(lo, hi uint64) Summary {
	if r := (Range{Lo: lo, Hi: hi}); m.tree != nil && r.LeafAligned() {
		return m.tree.Sum(r)
	}
	var s Summary
	for i := m.first(lo); i < len(m.items) && m.items[i].Hash <= hi; i++ {
		s.Count++
		s.Hash += m.items[i].Fingerprint
	}
	return s
}

func (m *memIndex) first(lo uint64) int {
	return sort.Search(len(m.items), func(i int) bool { return m.items[i].Hash >= lo })
}

func (m *memIndex) Items(lo, hi uint64, fn func(Item) error) error {
	if m.failItems != nil {
		return m.failItems
	}
	for i := m.first(lo); i < len(m.items) && m.items[i].Hash <= hi; i++ {
		if err := fn(m.items[i]); err != nil {
			return err
		}
	}
	return nil
}

// id is an item's identity.
type id struct {
	typ crdt.Type
	key string
}

func idOf(it Item) id { return id{it.Type, string(it.Key)} }

// replica is a set of items by identity, with a join: the greater
// fingerprint wins (a stand-in for the CRDT merge: deterministic,
// commutative, idempotent).
type replica map[id]Item

func (r replica) merge(it Item) {
	if old, ok := r[idOf(it)]; !ok || it.Fingerprint > old.Fingerprint {
		r[idOf(it)] = it
	}
}

func (r replica) items() []Item {
	out := make([]Item, 0, len(r))
	for _, it := range r {
		out = append(out, it)
	}
	slices.SortFunc(out, itemCmp)
	return out
}

func (r replica) clone() replica {
	c := make(replica, len(r))
	for k, v := range r {
		c[k] = v
	}
	return c
}

// withBudget is DefaultConfig with a MessageBudget of n bytes.
func withBudget(n int) Config {
	c := DefaultConfig()
	c.MessageBudget = n
	return c
}

// exchange is the record of one session between two sides.
type exchange struct {
	outA, outB     Outcome // a: initiator, b: responder
	messages       int
	bytesAB        int // initiator → responder
	bytesBA        int
	statsA, statsB Stats
}

func (x exchange) roundTrips() int { return (x.messages + 1) / 2 }

// runSession runs a whole session between an initiator over a and a
// responder over b, passing every message through Unmarshal and Marshal
// (which must reproduce it byte for byte). takeEach drains outcomes after
// every step instead of once at the end.
func runSession(a, b Index, cfgA, cfgB Config, takeEach bool) (exchange, error) {
	var x exchange
	ini, err := NewInitiator(a, cfgA)
	if err != nil {
		return x, err
	}
	res, err := NewResponder(b, cfgB)
	if err != nil {
		return x, err
	}
	take := func() {
		add := func(dst *Outcome, o Outcome) {
			dst.Send = append(dst.Send, o.Send...)
			dst.Stream = append(dst.Stream, o.Stream...)
			dst.Receive = append(dst.Receive, o.Receive...)
		}
		add(&x.outA, ini.TakeOutcome())
		add(&x.outB, res.TakeOutcome())
	}
	msg, err := ini.Start()
	if err != nil {
		return x, err
	}
	sides := [2]*Session{res, ini}
	done := [2]bool{}
	turn := 0 // index into sides of the receiver of msg
	for {
		x.messages++
		if turn == 0 {
			x.bytesAB += len(msg)
		} else {
			x.bytesBA += len(msg)
		}
		m, err := Unmarshal(msg)
		if err != nil {
			return x, fmt.Errorf("message %d does not decode: %w", x.messages, err)
		}
		again, err := m.Marshal()
		if err != nil || !bytes.Equal(again, msg) {
			return x, fmt.Errorf("message %d does not re-encode identically (%v)", x.messages, err)
		}
		if done[turn] {
			return x, fmt.Errorf("message %d sent to a finished side", x.messages)
		}
		reply, d, err := sides[turn].Handle(msg)
		if err != nil {
			return x, fmt.Errorf("message %d: %w", x.messages, err)
		}
		done[turn] = d
		if takeEach {
			take()
		}
		if reply == nil {
			if !d {
				return x, errors.New("no reply, but not done")
			}
			if !done[1-turn] {
				return x, errors.New("one side finished without telling the other")
			}
			break
		}
		if x.messages > 100000 {
			return x, errors.New("session does not end")
		}
		msg, turn = reply, 1-turn
	}
	if !ini.Done() || !res.Done() {
		return x, errors.New("a side does not report Done")
	}
	take()
	x.outA.Stream, x.outB.Stream = mergeRanges(x.outA.Stream), mergeRanges(x.outB.Stream)
	x.statsA, x.statsB = ini.Stats(), res.Stats()
	return x, nil
}

// apply delivers what each side was told to send to the other, from the
// state each held during the session, and returns the states after.
func apply(a, b replica, x exchange) (replica, replica) {
	a2, b2 := a.clone(), b.clone()
	deliver := func(from replica, to replica, o Outcome) {
		for _, it := range o.Send {
			to.merge(it)
		}
		for _, r := range o.Stream {
			for _, it := range from {
				if r.Contains(it.Hash) {
					to.merge(it)
				}
			}
		}
	}
	deliver(a, b2, x.outA)
	deliver(b, a2, x.outB)
	return a2, b2
}

func sameItems(a, b replica) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Fingerprint != w.Fingerprint || v.Hash != w.Hash {
			return false
		}
	}
	return true
}

func indexOf(r replica, tree bool) *memIndex { return newMemIndex(r.items(), tree) }

// mix64 is a fixed bijective mixer (splitmix64's finalizer).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func hashBytes(seed uint64, b []byte) uint64 {
	h := mix64(seed ^ 0x9e3779b97f4a7c15)
	for _, c := range b {
		h = mix64(h ^ uint64(c))
	}
	return h
}
