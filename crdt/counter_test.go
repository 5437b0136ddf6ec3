package crdt_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
)

type slots = map[crdt.ReplicaID]crdt.Slot

func TestCounterIncrement(t *testing.T) {
	tests := []struct {
		name      string
		start     slots
		id        crdt.ReplicaID
		by        int64
		wantDelta slots // nil with wantErr
		wantValue int64 // of start merged with the delta
		wantErr   error
	}{
		{"positive on empty", nil, "a", 5, slots{"a": {P: 5}}, 5, nil},
		{"negative on empty", nil, "a", -3, slots{"a": {N: 3}}, -3, nil},
		{"positive adds to own slot", slots{"a": {P: 5, N: 3}, "b": {P: 1, N: 0}}, "a", 2, slots{"a": {P: 7, N: 3}}, 5, nil},
		{"negative adds to own N", slots{"a": {P: 5, N: 3}}, "a", -4, slots{"a": {P: 5, N: 7}}, -2, nil},
		{"new replica gets a slot", slots{"a": {P: 5, N: 3}}, "b", 1, slots{"b": {P: 1, N: 0}}, 3, nil},
		{"zero on absent slot is an empty delta", slots{"a": {P: 5, N: 3}}, "b", 0, slots{}, 2, nil},
		{"zero on existing slot resends it", slots{"a": {P: 5, N: 3}}, "a", 0, slots{"a": {P: 5, N: 3}}, 2, nil},
		{"MaxInt64", nil, "a", math.MaxInt64, slots{"a": {P: math.MaxInt64}}, math.MaxInt64, nil},
		{"MinInt64", nil, "a", math.MinInt64, slots{"a": {N: 1 << 63}}, math.MinInt64, nil},
		{"MinInt64 onto a positive value", slots{"a": {P: 1}}, "a", math.MinInt64, slots{"a": {P: 1, N: 1 << 63}}, math.MinInt64 + 1, nil},
		{"value overflow upward", slots{"a": {P: math.MaxInt64}}, "a", 1, nil, 0, crdt.ErrOverflow},
		{"value overflow upward from another slot", slots{"a": {P: math.MaxInt64 - 1}}, "b", 2, nil, 0, crdt.ErrOverflow},
		{"value overflow downward", slots{"a": {N: 1 << 63}}, "b", -1, nil, 0, crdt.ErrOverflow},
		{"MinInt64 onto a negative value", slots{"a": {N: 1}}, "a", math.MinInt64, nil, 0, crdt.ErrOverflow},
		{"up to MaxInt64 exactly", slots{"b": {P: math.MaxInt64 - 10}}, "a", 10, slots{"a": {P: 10}}, math.MaxInt64, nil},
		{"down to MinInt64 exactly", slots{"b": {N: 1<<63 - 10}}, "a", -10, slots{"a": {N: 10}}, math.MinInt64, nil},
		// Slots only grow, so a slot can overflow while the value is small.
		{"P overflow", slots{"a": {P: math.MaxUint64, N: math.MaxUint64}}, "a", 1, nil, 0, crdt.ErrOverflow},
		{"N overflow", slots{"a": {P: math.MaxUint64, N: math.MaxUint64}}, "a", -1, nil, 0, crdt.ErrOverflow},
		{"N overflow by MinInt64", slots{"a": {P: math.MaxUint64, N: 1 << 63}}, "a", math.MinInt64, nil, 0, crdt.ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := crdt.NewCounter(tt.start)
			before := crdt.Encode(start)
			delta, err := start.Increment(tt.id, tt.by)
			if string(crdt.Encode(start)) != string(before) {
				t.Fatalf("Increment modified its receiver")
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Increment(%q, %d) error = %v, want %v", tt.id, tt.by, err, tt.wantErr)
				}
				if delta.Len() != 0 {
					t.Fatalf("failed Increment returned a delta with %d slots", delta.Len())
				}
				return
			}
			if err != nil {
				t.Fatalf("Increment(%q, %d): %v", tt.id, tt.by, err)
			}
			if !equalState(delta, crdt.NewCounter(tt.wantDelta)) {
				t.Fatalf("delta = %v, want %v", slotsOf(delta), tt.wantDelta)
			}
			merged := start.Merge(delta)
			if got := merged.Value(); got != tt.wantValue {
				t.Errorf("merged value = %d, want %d", got, tt.wantValue)
			}
			if got := merged.Value() - start.Value(); got != tt.by && tt.by != math.MinInt64 {
				t.Errorf("value moved by %d, want %d", got, tt.by)
			}
		})
	}
}

func slotsOf(c crdt.Counter) slots {
	m := slots{}
	for _, id := range c.Replicas() {
		m[id] = c.Slot(id)
	}
	return m
}

func TestCounterValue(t *testing.T) {
	tests := []struct {
		name  string
		slots slots
		want  int64
	}{
		{"empty", nil, 0},
		{"one positive", slots{"a": {P: 7}}, 7},
		{"one negative", slots{"a": {N: 7}}, -7},
		{"mixed", slots{"a": {P: 10, N: 3}, "b": {P: 1, N: 20}, "c": {P: 4}}, -8},
		{"slots larger than int64 that cancel", slots{"a": {P: math.MaxUint64, N: math.MaxUint64 - 5}}, 5},
		{"extremes", slots{"a": {P: math.MaxInt64}, "b": {N: 1 << 63}}, -1},
	}
	for _, tt := range tests {
		if got := crdt.NewCounter(tt.slots).Value(); got != tt.want {
			t.Errorf("%s: Value() = %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := (crdt.Counter{}).Value(); got != 0 {
		t.Errorf("zero Counter value = %d", got)
	}
}

func TestCounterMerge(t *testing.T) {
	tests := []struct {
		name    string
		a, b    slots
		want    slots
		aDomB   bool // a.Dominates(b)
		bDomA   bool
		comment string
	}{
		{name: "both empty", want: slots{}, aDomB: true, bDomA: true},
		{name: "empty and non-empty", b: slots{"a": {P: 1, N: 2}}, want: slots{"a": {P: 1, N: 2}}, bDomA: true},
		{name: "a slot moves as a unit: the greater by (P, N), never a mix",
			a: slots{"a": {P: 5, N: 1}, "b": {P: 2, N: 0}}, b: slots{"a": {P: 3, N: 4}, "c": {P: 1, N: 1}},
			want: slots{"a": {P: 5, N: 1}, "b": {P: 2, N: 0}, "c": {P: 1, N: 1}}},
		{name: "greater P wins over greater N",
			a: slots{"a": {P: 5, N: 0}}, b: slots{"a": {P: 4, N: 9, Sig: "s"}},
			want: slots{"a": {P: 5, N: 0}}, aDomB: true},
		{name: "equal counts: the signature is the last tiebreak",
			a: slots{"a": {P: 5, N: 4, Sig: "x"}}, b: slots{"a": {P: 5, N: 4}},
			want: slots{"a": {P: 5, N: 4, Sig: "x"}}, aDomB: true},
		{name: "a signed slot keeps its signature through merge",
			a: slots{"a": {P: 6, N: 4, Sig: "x"}, "b": {P: 1, Sig: "y"}}, b: slots{"a": {P: 5, N: 4, Sig: "z"}, "c": {N: 1, Sig: "w"}},
			want: slots{"a": {P: 6, N: 4, Sig: "x"}, "b": {P: 1, Sig: "y"}, "c": {N: 1, Sig: "w"}}},
		{name: "superset dominates",
			a: slots{"a": {P: 5, N: 4}, "b": {P: 2, N: 0}}, b: slots{"a": {P: 5, N: 4}},
			want: slots{"a": {P: 5, N: 4}, "b": {P: 2, N: 0}}, aDomB: true},
		{name: "equal dominate each other",
			a: slots{"a": {P: 5, N: 4}}, b: slots{"a": {P: 5, N: 4}}, want: slots{"a": {P: 5, N: 4}}, aDomB: true, bDomA: true},
		{name: "greater P only", a: slots{"a": {P: 6, N: 4}}, b: slots{"a": {P: 5, N: 4}}, want: slots{"a": {P: 6, N: 4}}, aDomB: true},
		{name: "greater N only", a: slots{"a": {P: 5, N: 4}}, b: slots{"a": {P: 5, N: 5}}, want: slots{"a": {P: 5, N: 5}}, bDomA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := crdt.NewCounter(tt.a), crdt.NewCounter(tt.b)
			encA, encB := crdt.Encode(a), crdt.Encode(b)
			want := crdt.NewCounter(tt.want)
			for _, m := range []crdt.Counter{a.Merge(b), b.Merge(a)} {
				if !equalState(m, want) || !sameEncoding(m, want) {
					t.Errorf("Merge = %v, want %v", slotsOf(m), tt.want)
				}
			}
			if string(crdt.Encode(a)) != string(encA) || string(crdt.Encode(b)) != string(encB) {
				t.Fatalf("Merge modified an operand")
			}
			if got := a.Dominates(b); got != tt.aDomB {
				t.Errorf("a.Dominates(b) = %t, want %t", got, tt.aDomB)
			}
			if got := b.Dominates(a); got != tt.bDomA {
				t.Errorf("b.Dominates(a) = %t, want %t", got, tt.bDomA)
			}
			merged, changed, err := crdt.Merge(a, b)
			if err != nil || changed == tt.aDomB || !sameEncoding(merged, want) {
				t.Errorf("crdt.Merge(a, b) = %v, changed %t, %v; want %v, changed %t", slotsOf(merged.(crdt.Counter)), changed, err, tt.want, !tt.aDomB)
			}
		})
	}
}

func TestNewCounter(t *testing.T) {
	in := slots{"b": {P: 1, N: 0}, "a": {P: 0, N: 2}, "zero": {}, "c": {P: 3, N: 3}}
	c := crdt.NewCounter(in)
	in["b"] = crdt.Slot{P: 100}
	delete(in, "a")
	if got, want := c.Replicas(), []crdt.ReplicaID{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Replicas() = %q, want %q (sorted, zero slot dropped)", got, want)
	}
	if c.Len() != 3 || c.Slot("b") != (crdt.Slot{P: 1}) || c.Slot("a") != (crdt.Slot{N: 2}) {
		t.Errorf("NewCounter aliases or mangles its input: %v", slotsOf(c))
	}
	if c.Slot("absent") != (crdt.Slot{}) {
		t.Errorf("absent slot = %+v", c.Slot("absent"))
	}
	if !sameEncoding(crdt.NewCounter(slots{"x": {}}), crdt.Counter{}) {
		t.Errorf("a counter of zero slots does not encode as the empty counter")
	}
	var zero crdt.Counter
	if zero.Len() != 0 || zero.Value() != 0 || len(zero.Replicas()) != 0 || zero.Type() != crdt.TypeCounter {
		t.Errorf("zero Counter is not empty")
	}
	d, err := zero.Increment("a", 1)
	if err != nil || zero.Merge(d).Value() != 1 {
		t.Errorf("zero Counter is not ready to use: %v", err)
	}
}

// A zero increment must not add an empty slot: a replica that saw it would
// encode differently from one that did not, though both hold the same value.
func TestCounterZeroIncrementConverges(t *testing.T) {
	var c crdt.Counter
	zero, err := c.Increment("z", 0)
	if err != nil {
		t.Fatal(err)
	}
	one, err := c.Increment("a", 1)
	if err != nil {
		t.Fatal(err)
	}
	r1, _, _ := crdt.Merge(nil, zero)
	r1, _, _ = crdt.Merge(r1, one)
	r2, _, _ := crdt.Merge(nil, one)
	r2, _, _ = crdt.Merge(r2, zero)
	if !sameEncoding(r1, r2) {
		t.Fatalf("replicas diverged: %x vs %x", crdt.Encode(r1), crdt.Encode(r2))
	}
}
