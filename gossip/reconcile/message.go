package reconcile

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

// Wire limits, enforced by Unmarshal (and so by Session.Handle) and
// respected by every message a Session builds.
const (
	MaxMessageSize = 4 << 20 // bytes in one message
	MaxResponses   = 1 << 17 // responses in one message
	MaxListItems   = 1 << 16 // fingerprints in one item list, indices in one Need
)

// ErrMalformed is wrapped by every error caused by what the peer sent: a
// message that does not decode, breaks a limit, or does not fit the state
// of the session.
var ErrMalformed = errors.New("reconcile: malformed message")

// Kind says what a Response carries.
type Kind uint8

// The kinds of Response. Values are the protobuf field numbers.
const (
	// KindChildren answers a summary question about a range: the
	// responder's summaries of its rangetree.Fanout children, each a new
	// question.
	KindChildren Kind = 2
	// KindItems answers a summary question with the responder's item list
	// of the range (fingerprints, ascending Hash): a new question.
	KindItems Kind = 3
	// KindNeed answers an item-list question: the positions, in the
	// asker's list, of the items the responder lacks; the asker sends them.
	KindNeed Kind = 4
	// KindStreamToMe answers a summary question: the responder holds
	// nothing in the range; the asker streams it whole.
	KindStreamToMe Kind = 5
	// KindStreaming answers a summary question with count 0: the
	// responder streams the range whole (Count items).
	KindStreaming Kind = 6
	// KindStreamBoth answers a summary question whose range is too
	// lopsided to list: both sides stream it whole (the responder has
	// Count items).
	KindStreamBoth Kind = 7
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindChildren:
		return "children"
	case KindItems:
		return "items"
	case KindNeed:
		return "need"
	case KindStreamToMe:
		return "stream-to-me"
	case KindStreaming:
		return "streaming"
	case KindStreamBoth:
		return "stream-both"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Message is one step of a session. Its protobuf schema:
//
//	message Message {
//	  uint64 ack = 1;                 // questions of the receiver answered, oldest first
//	  Summary root = 2;               // the initiator's first message only
//	  repeated Response response = 3; // in question order
//	}
//	message Summary { uint64 count = 1; fixed64 hash = 2; }
//	message Response {
//	  uint64 skip = 1;                // answered questions passed over since the previous response
//	  oneof answer {                  // exactly one
//	    Children children = 2;
//	    bytes items = 3;              // packed fixed64 fingerprints (may be empty)
//	    bytes need = 4;               // packed varint gaps: index[i] = index[i-1] + 1 + gap[i]
//	    uint64 stream_to_me = 5;      // always 1
//	    uint64 streaming = 6;         // count ≥ 1
//	    uint64 stream_both = 7;       // count ≥ 1
//	  }
//	}
//	message Children {
//	  repeated uint64 counts = 1 [packed];  // exactly 16
//	  repeated fixed64 hashes = 2 [packed]; // one per non-zero count
//	}
//
// Ranges are never sent: every question is about a range the asker
// derived from the session (the root, a child of a range asked about, or a
// range it listed), and a response names its question by position. A
// message therefore cannot name a range outside the tree, at a wrong level
// or out of order; it can only be inconsistent with the session, which
// Session.Handle checks. Each packed field occurs at most once; unknown
// fields are skipped.
type Message struct {
	// Ack is the number of the receiver's open questions, oldest first,
	// this message answers. Those not named by a Response need nothing
	// more (the ranges are equal, or the answer is implied).
	Ack uint64
	// Root is the initiator's summary of the whole hash space; only in the
	// first message of a session.
	Root *Summary
	// Responses answer some of the acknowledged questions, in order.
	Responses []Response
}

// Response answers one question.
type Response struct {
	Skip         uint64    // questions passed over since the previous response
	Kind         Kind      // what follows
	Children     []Summary // KindChildren: exactly rangetree.Fanout summaries
	Fingerprints []uint64  // KindItems: at most MaxListItems
	Need         []uint32  // KindNeed: 1..MaxListItems strictly ascending positions
	Count        uint64    // KindStreaming, KindStreamBoth: the sender's item count, ≥ 1
}

// Field numbers.
const (
	fieldAck      = 1
	fieldRoot     = 2
	fieldResponse = 3

	fieldSummaryCount = 1
	fieldSummaryHash  = 2

	fieldSkip = 1

	fieldChildCounts = 1
	fieldChildHashes = 2
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Marshal encodes m. It returns an error wrapping ErrMalformed if m breaks
// a rule Unmarshal enforces, so what Marshal returns always decodes.
func (m *Message) Marshal() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	size := m.size()
	if size > MaxMessageSize {
		return nil, malformed("message of %d bytes exceeds %d", size, MaxMessageSize)
	}
	b := make([]byte, 0, size)
	b = protowire.AppendTag(b, fieldAck, protowire.VarintType)
	b = protowire.AppendVarint(b, m.Ack)
	if m.Root != nil {
		b = protowire.AppendTag(b, fieldRoot, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(summarySize(*m.Root)))
		b = appendSummary(b, *m.Root)
	}
	for i := range m.Responses {
		b = appendResponse(b, &m.Responses[i])
	}
	return b, nil
}

func (m *Message) validate() error {
	if m.Root != nil && m.Root.Count == 0 && m.Root.Hash != 0 {
		return fmt.Errorf("root: count 0 with hash %#x", m.Root.Hash)
	}
	if len(m.Responses) > MaxResponses {
		return fmt.Errorf("%d responses exceed %d", len(m.Responses), MaxResponses)
	}
	for i := range m.Responses {
		if err := m.Responses[i].validate(); err != nil {
			return fmt.Errorf("response %d: %w", i, err)
		}
	}
	return nil
}

func (r *Response) validate() error {
	switch r.Kind {
	case KindChildren:
		if len(r.Children) != rangetree.Fanout {
			return fmt.Errorf("%d children, want %d", len(r.Children), rangetree.Fanout)
		}
		for i, c := range r.Children {
			if c.Count == 0 && c.Hash != 0 {
				return fmt.Errorf("child %d: count 0 with hash %#x", i, c.Hash)
			}
		}
	case KindItems:
		if len(r.Fingerprints) > MaxListItems {
			return fmt.Errorf("%d fingerprints exceed %d", len(r.Fingerprints), MaxListItems)
		}
	case KindNeed:
		if len(r.Need) == 0 || len(r.Need) > MaxListItems {
			return fmt.Errorf("need of %d positions (want 1..%d)", len(r.Need), MaxListItems)
		}
		for i, x := range r.Need {
			if x >= MaxListItems || (i > 0 && x <= r.Need[i-1]) {
				return fmt.Errorf("need positions not ascending below %d at %d", MaxListItems, i)
			}
		}
	case KindStreamToMe:
	case KindStreaming, KindStreamBoth:
		if r.Count == 0 {
			return fmt.Errorf("%v with count 0", r.Kind)
		}
	default:
		return fmt.Errorf("unknown kind %v", r.Kind)
	}
	return nil
}

func (m *Message) size() int {
	n := protowire.SizeTag(fieldAck) + protowire.SizeVarint(m.Ack)
	if m.Root != nil {
		n += protowire.SizeTag(fieldRoot) + protowire.SizeBytes(summarySize(*m.Root))
	}
	for i := range m.Responses {
		n += responseSize(&m.Responses[i])
	}
	return n
}

func summarySize(s Summary) int {
	return protowire.SizeTag(fieldSummaryCount) + protowire.SizeVarint(s.Count) +
		protowire.SizeTag(fieldSummaryHash) + protowire.SizeFixed64()
}

func appendSummary(b []byte, s Summary) []byte {
	b = protowire.AppendTag(b, fieldSummaryCount, protowire.VarintType)
	b = protowire.AppendVarint(b, s.Count)
	b = protowire.AppendTag(b, fieldSummaryHash, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, s.Hash)
}

// responseSize returns the bytes r adds to a message, field tag included.
func responseSize(r *Response) int {
	n := responseBodySize(r)
	return protowire.SizeTag(fieldResponse) + protowire.SizeBytes(n)
}

func responseBodySize(r *Response) int {
	n := 0
	if r.Skip != 0 {
		n += protowire.SizeTag(fieldSkip) + protowire.SizeVarint(r.Skip)
	}
	field := protowire.Number(r.Kind)
	switch r.Kind {
	case KindChildren:
		n += protowire.SizeTag(field) + protowire.SizeBytes(childrenSize(r.Children))
	case KindItems:
		n += protowire.SizeTag(field) + protowire.SizeBytes(8*len(r.Fingerprints))
	case KindNeed:
		n += protowire.SizeTag(field) + protowire.SizeBytes(needSize(r.Need))
	case KindStreamToMe:
		n += protowire.SizeTag(field) + 1
	case KindStreaming, KindStreamBoth:
		n += protowire.SizeTag(field) + protowire.SizeVarint(r.Count)
	}
	return n
}

func childrenSize(cs []Summary) (n int) {
	counts, hashes := 0, 0
	for _, c := range cs {
		counts += protowire.SizeVarint(c.Count)
		if c.Count != 0 {
			hashes += 8
		}
	}
	n = protowire.SizeTag(fieldChildCounts) + protowire.SizeBytes(counts)
	if hashes > 0 {
		n += protowire.SizeTag(fieldChildHashes) + protowire.SizeBytes(hashes)
	}
	return n
}

func needSize(need []uint32) (n int) {
	prev := -1
	for _, x := range need {
		n += protowire.SizeVarint(uint64(int(x) - prev - 1))
		prev = int(x)
	}
	return n
}

func appendResponse(b []byte, r *Response) []byte {
	b = protowire.AppendTag(b, fieldResponse, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(responseBodySize(r)))
	if r.Skip != 0 {
		b = protowire.AppendTag(b, fieldSkip, protowire.VarintType)
		b = protowire.AppendVarint(b, r.Skip)
	}
	field := protowire.Number(r.Kind)
	switch r.Kind {
	case KindChildren:
		b = protowire.AppendTag(b, field, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(childrenSize(r.Children)))
		counts, hashes := 0, 0
		for _, c := range r.Children {
			counts += protowire.SizeVarint(c.Count)
			if c.Count != 0 {
				hashes += 8
			}
		}
		b = protowire.AppendTag(b, fieldChildCounts, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(counts))
		for _, c := range r.Children {
			b = protowire.AppendVarint(b, c.Count)
		}
		if hashes > 0 {
			b = protowire.AppendTag(b, fieldChildHashes, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(hashes))
			for _, c := range r.Children {
				if c.Count != 0 {
					b = protowire.AppendFixed64(b, c.Hash)
				}
			}
		}
	case KindItems:
		b = protowire.AppendTag(b, field, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(8*len(r.Fingerprints)))
		for _, fp := range r.Fingerprints {
			b = protowire.AppendFixed64(b, fp)
		}
	case KindNeed:
		b = protowire.AppendTag(b, field, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(needSize(r.Need)))
		prev := -1
		for _, x := range r.Need {
			b = protowire.AppendVarint(b, uint64(int(x)-prev-1))
			prev = int(x)
		}
	case KindStreamToMe:
		b = protowire.AppendTag(b, field, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	case KindStreaming, KindStreamBoth:
		b = protowire.AppendTag(b, field, protowire.VarintType)
		b = protowire.AppendVarint(b, r.Count)
	}
	return b
}

// field is one decoded protobuf field: x holds a varint or fixed64 value,
// v the contents of a length-delimited one.
type field struct {
	num protowire.Number
	typ protowire.Type
	x   uint64
	v   []byte
}

// nextField decodes the field at the start of b and returns the rest.
// Groups are refused (no message of ours has one); fixed32 fields are
// returned for the caller to skip.
func nextField(b []byte) (field, []byte, error) {
	var f field
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return f, nil, fmt.Errorf("bad tag: %v", protowire.ParseError(n))
	}
	b = b[n:]
	f.num, f.typ = num, typ
	switch typ {
	case protowire.VarintType:
		f.x, n = protowire.ConsumeVarint(b)
	case protowire.Fixed64Type:
		f.x, n = protowire.ConsumeFixed64(b)
	case protowire.Fixed32Type:
		var x uint32
		x, n = protowire.ConsumeFixed32(b)
		f.x = uint64(x)
	case protowire.BytesType:
		f.v, n = protowire.ConsumeBytes(b)
	default:
		return f, nil, fmt.Errorf("field %d: wire type %d not allowed", num, typ)
	}
	if n < 0 {
		return f, nil, fmt.Errorf("field %d: %v", num, protowire.ParseError(n))
	}
	return f, b[n:], nil
}

// once records the fields seen so far and refuses a repeated one.
type once uint64

func (o *once) see(f field) error {
	if f.num >= 64 {
		return nil
	}
	bit := once(1) << f.num
	if *o&bit != 0 {
		return fmt.Errorf("field %d given twice", f.num)
	}
	*o |= bit
	return nil
}

func wantType(f field, typ protowire.Type) error {
	if f.typ != typ {
		return fmt.Errorf("field %d: wire type %d, want %d", f.num, f.typ, typ)
	}
	return nil
}

// Unmarshal decodes a message, enforcing every limit; an error wraps
// ErrMalformed. The result does not alias b. Unmarshal checks the message
// on its own; Session.Handle also checks it against the session.
func Unmarshal(b []byte) (Message, error) {
	m, err := unmarshalMessage(b)
	if err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return m, nil
}

func unmarshalMessage(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessageSize {
		return m, fmt.Errorf("message of %d bytes exceeds %d", len(b), MaxMessageSize)
	}
	var seen once
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return Message{}, err
		}
		b = rest
		switch f.num {
		case fieldAck:
			if err := errors.Join(seen.see(f), wantType(f, protowire.VarintType)); err != nil {
				return Message{}, err
			}
			m.Ack = f.x
		case fieldRoot:
			if err := errors.Join(seen.see(f), wantType(f, protowire.BytesType)); err != nil {
				return Message{}, err
			}
			s, err := unmarshalSummary(f.v)
			if err != nil {
				return Message{}, fmt.Errorf("root: %w", err)
			}
			m.Root = &s
		case fieldResponse:
			if err := wantType(f, protowire.BytesType); err != nil {
				return Message{}, err
			}
			if len(m.Responses) == MaxResponses {
				return Message{}, fmt.Errorf("more than %d responses", MaxResponses)
			}
			r, err := unmarshalResponse(f.v)
			if err != nil {
				return Message{}, fmt.Errorf("response %d: %w", len(m.Responses), err)
			}
			m.Responses = append(m.Responses, r)
		}
	}
	return m, nil
}

func unmarshalSummary(b []byte) (Summary, error) {
	var s Summary
	var seen once
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return Summary{}, err
		}
		b = rest
		switch f.num {
		case fieldSummaryCount:
			if err := errors.Join(seen.see(f), wantType(f, protowire.VarintType)); err != nil {
				return Summary{}, err
			}
			s.Count = f.x
		case fieldSummaryHash:
			if err := errors.Join(seen.see(f), wantType(f, protowire.Fixed64Type)); err != nil {
				return Summary{}, err
			}
			s.Hash = f.x
		}
	}
	if s.Count == 0 && s.Hash != 0 {
		return Summary{}, fmt.Errorf("summary: count 0 with hash %#x", s.Hash)
	}
	return s, nil
}

func unmarshalResponse(b []byte) (Response, error) {
	var r Response
	var seen once
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return Response{}, err
		}
		b = rest
		if f.num == fieldSkip {
			if err := errors.Join(seen.see(f), wantType(f, protowire.VarintType)); err != nil {
				return Response{}, err
			}
			r.Skip = f.x
			continue
		}
		k := Kind(f.num)
		if f.num < protowire.Number(KindChildren) || f.num > protowire.Number(KindStreamBoth) {
			continue // unknown field
		}
		if r.Kind != 0 {
			return Response{}, fmt.Errorf("response carries both %v and %v", r.Kind, k)
		}
		r.Kind = k
		switch k {
		case KindChildren:
			if err := wantType(f, protowire.BytesType); err != nil {
				return Response{}, err
			}
			if r.Children, err = unmarshalChildren(f.v); err != nil {
				return Response{}, err
			}
		case KindItems:
			if err := wantType(f, protowire.BytesType); err != nil {
				return Response{}, err
			}
			if r.Fingerprints, err = unmarshalItems(f.v); err != nil {
				return Response{}, err
			}
		case KindNeed:
			if err := wantType(f, protowire.BytesType); err != nil {
				return Response{}, err
			}
			if r.Need, err = unmarshalNeed(f.v); err != nil {
				return Response{}, err
			}
		case KindStreamToMe:
			if err := wantType(f, protowire.VarintType); err != nil {
				return Response{}, err
			}
			if f.x != 1 {
				return Response{}, fmt.Errorf("stream-to-me is %d, want 1", f.x)
			}
		case KindStreaming, KindStreamBoth:
			if err := wantType(f, protowire.VarintType); err != nil {
				return Response{}, err
			}
			if f.x == 0 {
				return Response{}, fmt.Errorf("%v with count 0", k)
			}
			r.Count = f.x
		}
	}
	if r.Kind == 0 {
		return Response{}, fmt.Errorf("response without an answer")
	}
	return r, nil
}

// unmarshalChildren decodes a Children message: exactly rangetree.Fanout
// counts and one hash per non-zero count.
func unmarshalChildren(b []byte) ([]Summary, error) {
	var counts, hashes []byte
	var seen once
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return nil, err
		}
		b = rest
		switch f.num {
		case fieldChildCounts:
			if err := errors.Join(seen.see(f), wantType(f, protowire.BytesType)); err != nil {
				return nil, err
			}
			counts = f.v
		case fieldChildHashes:
			if err := errors.Join(seen.see(f), wantType(f, protowire.BytesType)); err != nil {
				return nil, err
			}
			hashes = f.v
		}
	}
	cs := make([]Summary, rangetree.Fanout)
	for i := range cs {
		x, n := protowire.ConsumeVarint(counts)
		if n < 0 {
			return nil, fmt.Errorf("children: count %d: %v", i, protowire.ParseError(n))
		}
		cs[i].Count, counts = x, counts[n:]
	}
	if len(counts) != 0 {
		return nil, fmt.Errorf("children: more than %d counts", rangetree.Fanout)
	}
	for i := range cs {
		if cs[i].Count == 0 {
			continue
		}
		x, n := protowire.ConsumeFixed64(hashes)
		if n < 0 {
			return nil, fmt.Errorf("children: hash %d: %v", i, protowire.ParseError(n))
		}
		cs[i].Hash, hashes = x, hashes[n:]
	}
	if len(hashes) != 0 {
		return nil, fmt.Errorf("children: %d bytes of surplus hashes", len(hashes))
	}
	return cs, nil
}

// unmarshalItems decodes a packed list of fixed64 fingerprints.
func unmarshalItems(b []byte) ([]uint64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("items: %d bytes is not a whole number of fingerprints", len(b))
	}
	if len(b)/8 > MaxListItems {
		return nil, fmt.Errorf("items: %d fingerprints exceed %d", len(b)/8, MaxListItems)
	}
	fps := make([]uint64, len(b)/8)
	for i := range fps {
		fps[i], _ = protowire.ConsumeFixed64(b[8*i:])
	}
	return fps, nil
}

// unmarshalNeed decodes packed varint gaps into strictly ascending
// positions below MaxListItems.
func unmarshalNeed(b []byte) ([]uint32, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("need: empty")
	}
	var need []uint32
	next := uint64(0) // smallest position the next gap can name
	for len(b) > 0 {
		gap, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, fmt.Errorf("need: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if gap >= MaxListItems || next+gap >= MaxListItems {
			return nil, fmt.Errorf("need: position beyond %d", MaxListItems)
		}
		x := next + gap
		need = append(need, uint32(x))
		next = x + 1
	}
	return need, nil
}
