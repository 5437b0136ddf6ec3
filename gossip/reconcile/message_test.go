package reconcile

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"pgregory.net/rapid"

	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

func sampleChildren() []Summary {
	cs := make([]Summary, rangetree.Fanout)
	for i := range cs {
		if i%3 != 0 {
			cs[i] = Summary{Count: uint64(i * 1000), Hash: uint64(i) * 0x0101010101010101}
		}
	}
	return cs
}

func sampleMessages() []Message {
	return []Message{
		{},
		{Root: &Summary{}},
		{Root: &Summary{Count: 1_000_000, Hash: 0xdeadbeefcafef00d}},
		{Ack: 17, Responses: []Response{
			{Kind: KindChildren, Children: sampleChildren()},
			{Skip: 3, Kind: KindItems, Fingerprints: []uint64{1, 2, 0xffffffffffffffff}},
			{Kind: KindItems, Fingerprints: []uint64{}},
			{Kind: KindNeed, Need: []uint32{0, 1, 5, 300, MaxListItems - 1}},
			{Skip: 1, Kind: KindStreamToMe},
			{Kind: KindStreaming, Count: 12},
			{Kind: KindStreamBoth, Count: 1 << 40},
		}},
		{Ack: 1, Responses: []Response{{Kind: KindChildren, Children: make([]Summary, rangetree.Fanout)}}},
	}
}

// normalize makes empty lists compare equal however they were built.
func normalize(m Message) Message {
	if len(m.Responses) == 0 {
		m.Responses = nil
	}
	for i := range m.Responses {
		if m.Responses[i].Kind == KindItems && m.Responses[i].Fingerprints == nil {
			m.Responses[i].Fingerprints = []uint64{}
		}
	}
	return m
}

func TestMessageRoundTrip(t *testing.T) {
	for i, m := range sampleMessages() {
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if len(b) != m.size() {
			t.Fatalf("message %d: size() says %d, encoding is %d", i, m.size(), len(b))
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(m)) {
			t.Fatalf("message %d: got %+v, want %+v", i, got, m)
		}
	}
}

func TestMessageRoundTripProperty(t *testing.T) {
	summary := rapid.Custom(func(t *rapid.T) Summary {
		c := rapid.SampledFrom([]uint64{0, 1, 15, 300, 1 << 40}).Draw(t, "count")
		if c == 0 {
			return Summary{}
		}
		return Summary{Count: c, Hash: rapid.Uint64().Draw(t, "hash")}
	})
	response := rapid.Custom(func(t *rapid.T) Response {
		r := Response{Skip: rapid.Uint64Range(0, 1<<20).Draw(t, "skip")}
		r.Kind = Kind(rapid.IntRange(int(KindChildren), int(KindStreamBoth)).Draw(t, "kind"))
		switch r.Kind {
		case KindChildren:
			r.Children = rapid.SliceOfN(summary, rangetree.Fanout, rangetree.Fanout).Draw(t, "children")
		case KindItems:
			r.Fingerprints = rapid.SliceOf(rapid.Uint64()).Draw(t, "fps")
		case KindNeed:
			set := rapid.SliceOfNDistinct(rapid.Uint32Range(0, MaxListItems-1), 1, 50, rapid.ID[uint32]).Draw(t, "need")
			r.Need = append([]uint32(nil), set...)
			slices.Sort(r.Need)
		case KindStreaming, KindStreamBoth:
			r.Count = rapid.Uint64Range(1, 1<<62).Draw(t, "count")
		}
		return r
	})
	rapid.Check(t, func(t *rapid.T) {
		m := Message{Ack: rapid.Uint64().Draw(t, "ack")}
		if rapid.Bool().Draw(t, "root") {
			s := summary.Draw(t, "root")
			m.Root = &s
		}
		m.Responses = rapid.SliceOfN(response, 0, 20).Draw(t, "responses")
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(m)) {
			t.Fatalf("got %+v, want %+v", got, m)
		}
	})
}

func TestMarshalRejects(t *testing.T) {
	cases := map[string]Message{
		"root count 0 hash 1":  {Root: &Summary{Hash: 1}},
		"15 children":          {Responses: []Response{{Kind: KindChildren, Children: make([]Summary, 15)}}},
		"child count 0 hash 1": {Responses: []Response{{Kind: KindChildren, Children: append(make([]Summary, 15), Summary{Hash: 1})}}},
		"long list":            {Responses: []Response{{Kind: KindItems, Fingerprints: make([]uint64, MaxListItems+1)}}},
		"empty need":           {Responses: []Response{{Kind: KindNeed}}},
		"need descending":      {Responses: []Response{{Kind: KindNeed, Need: []uint32{2, 1}}}},
		"need repeated":        {Responses: []Response{{Kind: KindNeed, Need: []uint32{1, 1}}}},
		"need too far":         {Responses: []Response{{Kind: KindNeed, Need: []uint32{MaxListItems}}}},
		"streaming 0":          {Responses: []Response{{Kind: KindStreaming}}},
		"stream both 0":        {Responses: []Response{{Kind: KindStreamBoth}}},
		"no kind":              {Responses: []Response{{}}},
		"unknown kind":         {Responses: []Response{{Kind: 9}}},
		"too many responses":   {Responses: make([]Response, MaxResponses+1)},
	}
	for name, m := range cases {
		if _, err := m.Marshal(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// enc builds protobuf bytes from (field, wire type, value) triples.
func enc(fields ...any) []byte {
	var b []byte
	for i := 0; i < len(fields); i += 3 {
		num, typ := protowire.Number(fields[i].(int)), fields[i+1].(protowire.Type)
		b = protowire.AppendTag(b, num, typ)
		switch v := fields[i+2].(type) {
		case int:
			if typ == protowire.Fixed64Type {
				b = protowire.AppendFixed64(b, uint64(v))
			} else {
				b = protowire.AppendVarint(b, uint64(v))
			}
		case []byte:
			b = protowire.AppendBytes(b, v)
		}
	}
	return b
}

const (
	tVarint = protowire.VarintType
	tBytes  = protowire.BytesType
	tFixed  = protowire.Fixed64Type
)

func resp(fields ...any) []byte { return enc(fieldResponse, tBytes, enc(fields...)) }

func children(counts []byte, hashes []byte) []byte {
	b := enc(fieldChildCounts, tBytes, counts)
	if hashes != nil {
		b = append(b, enc(fieldChildHashes, tBytes, hashes)...)
	}
	return b
}

func TestUnmarshalRejects(t *testing.T) {
	sixteenZero := make([]byte, 16)
	oneCount := append([]byte{5}, make([]byte, 15)...)
	cases := map[string][]byte{
		"too big":                  make([]byte, MaxMessageSize+1),
		"bad tag":                  {0x80},
		"field 0":                  {0x00, 0x01},
		"truncated varint":         {0x08, 0x80},
		"truncated bytes":          {0x1a, 0x05, 0x01},
		"group":                    {0x0b, 0x0c},
		"ack twice":                enc(1, tVarint, 1, 1, tVarint, 2),
		"ack as bytes":             enc(1, tBytes, []byte{1}),
		"root twice":               enc(2, tBytes, []byte{}, 2, tBytes, []byte{}),
		"root count 0 hash":        enc(2, tBytes, enc(1, tVarint, 0, 2, tFixed, 7)),
		"root hash as varint":      enc(2, tBytes, enc(2, tVarint, 7)),
		"response empty":           resp(),
		"response only skip":       resp(1, tVarint, 3),
		"response two kinds":       resp(5, tVarint, 1, 6, tVarint, 3),
		"response skip twice":      resp(1, tVarint, 1, 1, tVarint, 1, 5, tVarint, 1),
		"stream-to-me 2":           resp(5, tVarint, 2),
		"streaming 0":              resp(6, tVarint, 0),
		"stream both 0":            resp(7, tVarint, 0),
		"streaming as bytes":       resp(6, tBytes, []byte{1}),
		"items odd length":         resp(3, tBytes, []byte{1, 2, 3}),
		"items too many":           resp(3, tBytes, make([]byte, 8*(MaxListItems+1))),
		"items as varint":          resp(3, tVarint, 1),
		"need empty":               resp(4, tBytes, []byte{}),
		"need beyond limit":        resp(4, tBytes, protowire.AppendVarint(nil, MaxListItems)),
		"need sum beyond limit":    resp(4, tBytes, protowire.AppendVarint([]byte{0x00}, MaxListItems-1)),
		"need huge gap":            resp(4, tBytes, protowire.AppendVarint(nil, 1<<63)),
		"need truncated":           resp(4, tBytes, []byte{0x80}),
		"children 15 counts":       resp(2, tBytes, children(make([]byte, 15), nil)),
		"children 17 counts":       resp(2, tBytes, children(make([]byte, 17), nil)),
		"children missing hash":    resp(2, tBytes, children(oneCount, nil)),
		"children surplus hash":    resp(2, tBytes, children(sixteenZero, make([]byte, 8))),
		"children short hash":      resp(2, tBytes, children(oneCount, make([]byte, 7))),
		"children counts twice":    resp(2, tBytes, append(children(sixteenZero, nil), children(sixteenZero, nil)...)),
		"children bad count":       resp(2, tBytes, children(append(make([]byte, 15), 0x80), nil)),
		"children counts as fixed": resp(2, tBytes, enc(1, tFixed, 1)),
	}
	for name, b := range cases {
		_, err := Unmarshal(b)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestUnmarshalSkipsUnknownFields(t *testing.T) {
	m := sampleMessages()[3]
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	extra := enc(9, tVarint, 5, 10, tBytes, []byte("future"), 11, tFixed, 1)
	b = append(b, extra...)
	b = append(b, resp(5, tVarint, 1, 12, tVarint, 99)...)
	b = protowire.AppendTag(b, 13, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 1)
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Responses) != len(m.Responses)+1 || got.Responses[len(m.Responses)].Kind != KindStreamToMe {
		t.Fatalf("got %+v", got)
	}
}

func TestUnmarshalDoesNotAlias(t *testing.T) {
	m := Message{Responses: []Response{{Kind: KindItems, Fingerprints: []uint64{42}}}}
	b, _ := m.Marshal()
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xff
	}
	if got.Responses[0].Fingerprints[0] != 42 {
		t.Fatal("decoded message aliases its input")
	}
}
