package crdt_test

import (
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
)

func live(t crdt.Timestamp, origin crdt.ReplicaID, value string) crdt.Register {
	return crdt.Register{Time: t, Origin: origin, Value: []byte(value)}
}

func tombstone(t crdt.Timestamp, origin crdt.ReplicaID) crdt.Register {
	return crdt.Register{Time: t, Origin: origin, Deleted: true}
}

// registerOrder lists pairs with lo < hi, each for one documented tie-break.
var registerOrder = []struct {
	name   string
	lo, hi crdt.Register
}{
	{"later time wins", live(ts(1, 0), "b", "z"), live(ts(2, 0), "a", "a")},
	{"signature is the last tiebreak", crdt.Register{Time: ts(3, 0), Origin: "a", Value: []byte("v"), Sig: []byte("s1")}, crdt.Register{Time: ts(3, 0), Origin: "a", Value: []byte("v"), Sig: []byte("s2")}},
	{"a signed state beats its unsigned twin", live(ts(3, 0), "a", "v"), crdt.Register{Time: ts(3, 0), Origin: "a", Value: []byte("v"), Sig: []byte("s")}},
	{"signed tombstones order by signature", crdt.Register{Time: ts(3, 0), Origin: "a", Deleted: true, Sig: []byte("a")}, crdt.Register{Time: ts(3, 0), Origin: "a", Deleted: true, Sig: []byte("b")}},
	{"value before signature", crdt.Register{Time: ts(3, 0), Origin: "a", Value: []byte("v"), Sig: []byte("z")}, crdt.Register{Time: ts(3, 0), Origin: "a", Value: []byte("w"), Sig: []byte("a")}},
	{"logical counter is part of time", live(ts(5, 1), "zz", "z"), live(ts(5, 2), "a", "")},
	{"later time beats a tombstone", tombstone(ts(7, 0), "a"), live(ts(7, 1), "a", "x")},
	{"later tombstone beats a value", live(ts(7, 0), "z", "x"), tombstone(ts(7, 1), "a")},
	{"same time: greater origin wins", live(ts(3, 0), "a", "z"), live(ts(3, 0), "b", "a")},
	{"origins compare as bytes", live(ts(3, 0), "B", "x"), live(ts(3, 0), "a", "x")},
	{"a prefix origin is smaller", live(ts(3, 0), "ab", "x"), live(ts(3, 0), "abc", "x")},
	{"empty origin is smallest", live(ts(3, 0), "", "x"), live(ts(3, 0), "\x00", "x")},
	{"origin beats tombstone flag", live(ts(3, 0), "a", "x"), tombstone(ts(3, 0), "b")},
	{"same time and origin: tombstone before live", tombstone(ts(3, 0), "a"), live(ts(3, 0), "a", "")},
	{"tombstone before live even with a stale value", crdt.Register{Time: ts(3, 0), Origin: "a", Deleted: true, Value: []byte("zzz")}, live(ts(3, 0), "a", "")},
	{"then greater value bytes", live(ts(3, 0), "a", "abc"), live(ts(3, 0), "a", "abd")},
	{"a prefix value is smaller", live(ts(3, 0), "a", "ab"), live(ts(3, 0), "a", "ab\x00")},
	{"empty value is smallest", live(ts(3, 0), "a", ""), live(ts(3, 0), "a", "\x00")},
	{"values compare as unsigned bytes", live(ts(3, 0), "a", "\x7f"), live(ts(3, 0), "a", "\x80")},
}

func TestRegisterCompareOrder(t *testing.T) {
	for _, tt := range registerOrder {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.lo.Compare(tt.hi); got != -1 {
				t.Errorf("lo.Compare(hi) = %d, want -1", got)
			}
			if got := tt.hi.Compare(tt.lo); got != 1 {
				t.Errorf("hi.Compare(lo) = %d, want 1", got)
			}
			for _, m := range []crdt.Register{tt.lo.Merge(tt.hi), tt.hi.Merge(tt.lo)} {
				if !sameEncoding(m, tt.hi) {
					t.Errorf("Merge = %+v, want the greater %+v", m, tt.hi)
				}
			}
			merged, changed, err := crdt.Merge(tt.lo, tt.hi)
			if err != nil || !changed || !sameEncoding(merged, tt.hi) {
				t.Errorf("crdt.Merge(lo, hi) = %+v, %t, %v; want hi, true, nil", merged, changed, err)
			}
			merged, changed, err = crdt.Merge(tt.hi, tt.lo)
			if err != nil || changed || !sameEncoding(merged, tt.hi) {
				t.Errorf("crdt.Merge(hi, lo) = %+v, %t, %v; want hi, false, nil", merged, changed, err)
			}
		})
	}
}

func TestRegisterCompareEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b crdt.Register
	}{
		{"identical", live(ts(3, 1), "a", "v"), live(ts(3, 1), "a", "v")},
		{"zero registers", crdt.Register{}, crdt.Register{}},
		{"nil and empty value", crdt.Register{Time: 1, Origin: "a"}, crdt.Register{Time: 1, Origin: "a", Value: []byte{}}},
		{"identical tombstones", tombstone(ts(3, 1), "a"), tombstone(ts(3, 1), "a")},
		// Encode drops a tombstone's value, so Compare must ignore it too.
		{"tombstones with stale values", crdt.Register{Time: 1, Origin: "a", Deleted: true, Value: []byte("x")}, crdt.Register{Time: 1, Origin: "a", Deleted: true, Value: []byte("y")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.a.Compare(tt.b) != 0 || tt.b.Compare(tt.a) != 0 {
				t.Errorf("Compare = %d, %d; want 0, 0", tt.a.Compare(tt.b), tt.b.Compare(tt.a))
			}
			if !sameEncoding(tt.a, tt.b) {
				t.Errorf("equal registers encode differently: %x vs %x", crdt.Encode(tt.a), crdt.Encode(tt.b))
			}
			if _, changed, err := crdt.Merge(tt.a, tt.b); changed || err != nil {
				t.Errorf("crdt.Merge of equal registers: changed %t, err %v", changed, err)
			}
		})
	}
}

func TestRegisterMergeDoesNotCopyOrModify(t *testing.T) {
	a, b := live(ts(1, 0), "a", "old"), live(ts(2, 0), "a", "new")
	m := a.Merge(b)
	if string(a.Value) != "old" || string(b.Value) != "new" || string(m.Value) != "new" {
		t.Fatalf("Merge modified its inputs: a=%q b=%q m=%q", a.Value, b.Value, m.Value)
	}
	if a.Type() != crdt.TypeRegister || (crdt.Register{}).Type() != crdt.TypeRegister {
		t.Errorf("Register.Type() = %v", a.Type())
	}
}
