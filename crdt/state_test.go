package crdt_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
)

// otherState is a State that is neither a Register nor a Counter.
type otherState struct{}

func (otherState) Type() crdt.Type { return 99 }

func TestTypeString(t *testing.T) {
	for typ, want := range map[crdt.Type]string{
		crdt.TypeRegister: "register", crdt.TypeCounter: "counter", 0: "type(0)", 99: "type(99)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", uint8(typ), got, want)
		}
	}
}

func TestMergeStates(t *testing.T) {
	reg := live(ts(5, 0), "a", "v")
	cnt := crdt.NewCounter(slots{"a": {P: 1}})
	tests := []struct {
		name        string
		stored      crdt.State
		delta       crdt.State
		want        crdt.State // nil: want nil
		wantChanged bool
		wantErr     error // nil: no error; errAny: any error
	}{
		{name: "nothing into nothing", want: nil},
		{name: "register into nothing", delta: reg, want: reg, wantChanged: true},
		{name: "counter into nothing", delta: cnt, want: cnt, wantChanged: true},
		{name: "nothing into register", stored: reg, want: reg},
		{name: "nothing into counter", stored: cnt, want: cnt},
		{name: "register into counter", stored: cnt, delta: reg, want: cnt, wantErr: crdt.ErrTypeMismatch},
		{name: "counter into register", stored: reg, delta: cnt, want: reg, wantErr: crdt.ErrTypeMismatch},
		{name: "unknown into register", stored: reg, delta: otherState{}, want: reg, wantErr: crdt.ErrTypeMismatch},
		{name: "unknown into nothing", delta: otherState{}, want: nil, wantErr: errAny},
		{name: "register into unknown", stored: otherState{}, delta: reg, want: otherState{}, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed, err := crdt.Merge(tt.stored, tt.delta)
			switch {
			case tt.wantErr == errAny && err == nil:
				t.Errorf("no error, want one")
			case tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if changed != tt.wantChanged {
				t.Errorf("changed = %t, want %t", changed, tt.wantChanged)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && (got.Type() != tt.want.Type() || !sameEncoding(got, tt.want))) {
				t.Errorf("merged = %#v, want %#v", got, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

// encodingCases are canonical encodings; they also seed FuzzDecode.
var encodingCases = []struct {
	name  string
	state crdt.State
	enc   []byte
}{
	{"zero register", crdt.Register{}, []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"live register", live(ts(1, 2), "ab", "xy"), []byte{1, 1, 0, 0, 0, 0, 0, 1, 0, 2, 0, 2, 'a', 'b', 'x', 'y'}},
	{"tombstone", tombstone(crdt.MaxTimestamp, "a"), []byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 1, 'a'}},
	{"tombstone drops a stale value", crdt.Register{Time: 1, Origin: "a", Deleted: true, Value: []byte("x")}, []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 'a'}},
	{"origin of 256 bytes", live(0, crdt.ReplicaID(strings.Repeat("o", 256)), "v"),
		append(append([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x02}, strings.Repeat("o", 256)...), 'v')},
	{"empty counter", crdt.Counter{}, []byte{1, 2, 0}},
	{"counter", crdt.NewCounter(slots{"bb": {P: 300}, "a": {P: 1, N: 2}, "": {N: 1}}),
		[]byte{1, 2, 3, 0, 0, 1, 1, 'a', 1, 2, 2, 'b', 'b', 0xac, 0x02, 0}},
	{"signed register", crdt.Register{Time: ts(1, 2), Origin: "ab", Value: []byte("xy"), Sig: []byte("SIG")},
		[]byte{2, 1, 0, 0, 0, 0, 0, 1, 0, 2, 0, 2, 'a', 'b', 3, 'S', 'I', 'G', 'x', 'y'}},
	{"signed tombstone", crdt.Register{Time: 1, Origin: "a", Deleted: true, Sig: []byte("S")},
		[]byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 'a', 1, 'S'}},
	{"signed register of a 128-byte signature", crdt.Register{Time: 1, Origin: "a", Value: []byte("v"), Sig: []byte(strings.Repeat("s", 128))},
		append(append([]byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 0x80, 0x01}, strings.Repeat("s", 128)...), 'v')},
	{"signed counter", crdt.NewCounter(slots{"b": {P: 1, Sig: "S"}, "a": {N: 2, Sig: "T"}}),
		[]byte{2, 2, 2, 1, 'a', 0, 2, 1, 'T', 1, 'b', 1, 0, 1, 'S'}},
	{"counter with signed and unsigned slots", crdt.NewCounter(slots{"b": {P: 1, Sig: "S"}, "a": {N: 2}}),
		[]byte{2, 2, 2, 1, 'a', 0, 2, 0, 1, 'b', 1, 0, 1, 'S'}},
	{"counter extremes", crdt.NewCounter(slots{"a": {P: 1<<64 - 1, N: 1 << 63}}),
		[]byte{1, 2, 1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
}

func TestEncodeDecode(t *testing.T) {
	for _, tt := range encodingCases {
		t.Run(tt.name, func(t *testing.T) {
			got := crdt.Encode(tt.state)
			if !bytes.Equal(got, tt.enc) {
				t.Fatalf("Encode = %x, want %x", got, tt.enc)
			}
			if app := crdt.AppendEncode([]byte("prefix"), tt.state); !bytes.Equal(app, append([]byte("prefix"), tt.enc...)) {
				t.Fatalf("AppendEncode = %x", app)
			}
			dec, err := crdt.Decode(tt.enc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !equalState(dec, tt.state) || dec.Type() != tt.state.Type() {
				t.Fatalf("Decode = %#v, want %#v", dec, tt.state)
			}
			if !bytes.Equal(crdt.Encode(dec), tt.enc) {
				t.Fatalf("re-encoded %x", crdt.Encode(dec))
			}
		})
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	b := crdt.Encode(live(ts(1, 0), "origin", "value"))
	s, err := crdt.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if r := s.(crdt.Register); r.Origin != "origin" || string(r.Value) != "value" {
		t.Fatalf("decoded register changed with its input: %+v", r)
	}
	b = crdt.Encode(crdt.NewCounter(slots{"id": {P: 1}}))
	s, err = crdt.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if c := s.(crdt.Counter); c.Slot("id") != (crdt.Slot{P: 1}) {
		t.Fatalf("decoded counter changed with its input: %v", slotsOf(c))
	}
}

func reg(header []byte, rest ...byte) []byte { return append(append([]byte{1, 1}, header...), rest...) }

var hlc8 = []byte{0, 0, 0, 0, 0, 0, 0, 1}

// malformedCases must all fail with ErrMalformed; they also seed FuzzDecode.
var malformedCases = []struct {
	name string
	in   []byte
}{
	{"empty", nil},
	{"one byte", []byte{1}},
	{"version 0", []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"version 3", []byte{3, 2, 0}},
	{"signed empty counter", []byte{2, 2, 0}},
	{"signed counter without a signature", []byte{2, 2, 1, 1, 'a', 1, 0, 0}},
	{"signed counter slot missing its signature length", []byte{2, 2, 1, 1, 'a', 1, 0}},
	{"signed counter zero slot with a signature", []byte{2, 2, 1, 1, 'a', 0, 0, 1, 's'}},
	{"signed register without a signature", []byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 0, 'v'}},
	{"signed register signature past the input", []byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 5, 's'}},
	{"signed register signature too long", append([]byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 0x81, 0x01}, strings.Repeat("s", 129)...)},
	{"signed tombstone with a value", []byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 'a', 1, 's', 'v'}},
	{"type 0", []byte{1, 0}},
	{"unknown type", []byte{1, 3, 0}},
	{"register without flags", reg(hlc8)},
	{"register shorter than its stamp", reg([]byte{0, 0, 0})},
	{"unknown register flag", reg(hlc8, 2, 0)},
	{"high register flag", reg(hlc8, 0x81, 0)},
	{"register without origin length", reg(hlc8, 0)},
	{"non-minimal origin length", reg(hlc8, 0, 0x81, 0x00, 'a')},
	{"origin past the input", reg(hlc8, 0, 5, 'a')},
	{"origin over the limit", reg(hlc8, append([]byte{0, 0x81, 0x02}, bytes.Repeat([]byte{'o'}, 257)...)...)},
	{"tombstone with a value", reg(hlc8, 1, 1, 'a', 'v')},
	{"overlong varint", reg(hlc8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
	{"counter without length", []byte{1, 2}},
	{"non-minimal counter length", []byte{1, 2, 0x80, 0x00}},
	{"counter length past the input", []byte{1, 2, 1, 0, 1}},
	{"counter length over the limit", append([]byte{1, 2, 0x81, 0x80, 0x04}, bytes.Repeat([]byte{0, 1, 0}, 1<<16+1)...)},
	{"counter slots out of order", []byte{1, 2, 2, 1, 'b', 1, 0, 1, 'a', 1, 0}},
	{"duplicate counter slot", []byte{1, 2, 2, 1, 'a', 1, 0, 1, 'a', 2, 0}},
	{"empty origin after another", []byte{1, 2, 2, 1, 'a', 1, 0, 0, 1, 0}},
	{"zero counter slot", []byte{1, 2, 1, 1, 'a', 0, 0}},
	{"trailing bytes after counter", []byte{1, 2, 0, 0}},
	{"truncated P", []byte{1, 2, 1, 1, 'a', 0x80}},
	{"non-minimal P", []byte{1, 2, 1, 1, 'a', 0x81, 0x00, 0}},
	{"non-minimal N", []byte{1, 2, 1, 1, 'a', 1, 0x80, 0x00, 0}},
	{"missing N", []byte{1, 2, 1, 1, 'a', 1}},
	{"counter origin over the limit", append(append([]byte{1, 2, 1, 0x81, 0x02}, bytes.Repeat([]byte{'o'}, 257)...), 1, 0)},
}

func TestDecodeMalformed(t *testing.T) {
	for _, tt := range malformedCases {
		t.Run(tt.name, func(t *testing.T) {
			s, err := crdt.Decode(tt.in)
			if !errors.Is(err, crdt.ErrMalformed) {
				t.Fatalf("Decode(%x) = %#v, %v; want ErrMalformed", tt.in, s, err)
			}
			if s != nil {
				t.Fatalf("Decode returned a state with its error: %#v", s)
			}
		})
	}
}
