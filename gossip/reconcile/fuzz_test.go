package reconcile

import (
	"errors"
	"reflect"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

// traffic returns the messages of a real session between two small,
// differing replicas, initiator's first.
func traffic(tb testing.TB) [][]byte {
	tb.Helper()
	a, b := genPair(pairSpec{n: 400, missA: 20, missB: 20, diff: 20, seed: 11})
	ini, _ := NewInitiator(indexOf(a, false), withBudget(300))
	res, _ := NewResponder(indexOf(b, false), withBudget(300))
	msg, err := ini.Start()
	if err != nil {
		tb.Fatal(err)
	}
	out := [][]byte{msg}
	sides := [2]*Session{res, ini}
	for turn := 0; msg != nil; turn = 1 - turn {
		if msg, _, err = sides[turn].Handle(msg); err != nil {
			tb.Fatal(err)
		}
		if msg != nil {
			out = append(out, msg)
		}
	}
	return out
}

func addSeeds(f *testing.F) {
	for _, m := range traffic(f) {
		f.Add(m)
	}
	for _, m := range sampleMessages() {
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzUnmarshal(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		m2, err := Unmarshal(b)
		if err != nil || !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("re-decoding differs: %v", err)
		}
	})
}

// responseBodies returns the Response messages inside the seed traffic.
func responseBodies(f *testing.F) [][]byte {
	var out [][]byte
	for _, m := range append(traffic(f), mustMarshalF(f, sampleMessages()[3])) {
		for len(m) > 0 {
			fl, rest, err := nextField(m)
			if err != nil {
				f.Fatal(err)
			}
			if fl.num == fieldResponse {
				out = append(out, fl.v)
			}
			m = rest
		}
	}
	return out
}

func mustMarshalF(f *testing.F, m Message) []byte {
	b, err := m.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzUnmarshalResponse(f *testing.F) {
	for _, b := range responseBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := unmarshalResponse(data)
		if err != nil {
			return
		}
		m := Message{Responses: []Response{r}}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("decoded response does not encode: %v", err)
		}
		if got, err := Unmarshal(b); err != nil || !reflect.DeepEqual(normalize(got), normalize(m)) {
			t.Fatalf("re-decoding differs: %v", err)
		}
	})
}

func FuzzUnmarshalSummary(f *testing.F) {
	f.Add(appendSummary(nil, Summary{Count: 1_000_000, Hash: 12345}))
	f.Add(appendSummary(nil, Summary{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := unmarshalSummary(data)
		if err != nil {
			return
		}
		if s.Count == 0 && s.Hash != 0 {
			t.Fatal("empty summary with a hash")
		}
		if got, err := unmarshalSummary(appendSummary(nil, s)); err != nil || got != s {
			t.Fatalf("re-decoding differs: %v", err)
		}
	})
}

func FuzzUnmarshalChildren(f *testing.F) {
	for _, cs := range [][]Summary{sampleChildren(), make([]Summary, rangetree.Fanout)} {
		r := Response{Kind: KindChildren, Children: cs}
		b := appendResponse(nil, &r)
		fl, _, _ := nextField(b)
		inner, _, _ := nextField(fl.v)
		f.Add(inner.v)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := unmarshalChildren(data)
		if err != nil {
			return
		}
		r := Response{Kind: KindChildren, Children: cs}
		if err := r.validate(); err != nil {
			t.Fatalf("decoded children are invalid: %v", err)
		}
	})
}

func FuzzUnmarshalItems(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, data []byte) {
		fps, err := unmarshalItems(data)
		if err != nil {
			return
		}
		if len(fps)*8 != len(data) {
			t.Fatalf("%d fingerprints from %d bytes", len(fps), len(data))
		}
	})
}

func FuzzUnmarshalNeed(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{0, 0, 5, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		need, err := unmarshalNeed(data)
		if err != nil {
			return
		}
		r := Response{Kind: KindNeed, Need: need}
		if err := r.validate(); err != nil {
			t.Fatalf("decoded need is invalid: %v", err)
		}
	})
}

// FuzzHandle feeds arbitrary bytes to sessions in every state: a fresh
// responder, an initiator after Start, and each side part-way through a
// real session (the data replaces message number step). Nothing may
// panic; every error must be ErrMalformed; every reply must decode.
func FuzzHandle(f *testing.F) {
	for i, m := range traffic(f) {
		f.Add(uint8(i), m)
	}
	a, b := genPair(pairSpec{n: 400, missA: 20, missB: 20, diff: 20, seed: 11})
	ia, ib := indexOf(a, false), indexOf(b, false)
	f.Fuzz(func(t *testing.T, step uint8, data []byte) {
		check := func(reply []byte, err error) {
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error does not wrap ErrMalformed: %v", err)
				}
				return
			}
			if reply != nil {
				if _, err := Unmarshal(reply); err != nil {
					t.Fatalf("reply does not decode: %v", err)
				}
			}
		}
		res, _ := NewResponder(ib, withBudget(300))
		reply, _, err := res.Handle(data)
		check(reply, err)

		ini, _ := NewInitiator(ia, withBudget(300))
		if _, err := ini.Start(); err != nil {
			t.Fatal(err)
		}
		reply, _, err = ini.Handle(data)
		check(reply, err)

		// Part-way through: replay the real session up to step, then
		// deliver data instead, then keep going with honest replies.
		ini, _ = NewInitiator(ia, withBudget(300))
		res, _ = NewResponder(ib, withBudget(300))
		msg, _ := ini.Start()
		sides := [2]*Session{res, ini}
		for i, turn := 1, 0; msg != nil && i < 1000; i, turn = i+1, 1-turn {
			if i == int(step%32)+1 {
				msg = data
			}
			var done bool
			msg, done, err = sides[turn].Handle(msg)
			check(msg, err)
			if err != nil || done {
				break
			}
		}
	})
}
