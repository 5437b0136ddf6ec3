package reconcile

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

// Session limits beyond those of a single message.
const (
	// MaxMessages bounds the messages one session receives, so a peer
	// that keeps a session alive with tiny steps is cut off.
	MaxMessages = 1 << 14
	// maxPending bounds the weight (one per question plus one per listed
	// fingerprint) of the questions a session holds for its peer. A
	// session keeps its own open questions under openSoftCap, so an honest
	// peer never comes near.
	maxPending  = 1 << 21
	openSoftCap = 1 << 20
)

// ErrState is returned when a Session method is called out of turn:
// Start twice or on a responder, Handle before Start, or after the end.
var ErrState = errors.New("reconcile: session method called out of turn")

// errOverflow stops an item scan that outgrew MaxListItems.
var errOverflow = errors.New("reconcile: list overflow")

// ErrInvalidConfig is wrapped by every problem Config.Validate reports.
var ErrInvalidConfig = errors.New("reconcile: invalid config")

// Config tunes a session. Start from DefaultConfig: the zero Config is
// invalid. The two sides of a session may use different configurations.
type Config struct {
	// ListThreshold: a differing range where either side holds at most
	// this many items is resolved by an item list instead of descending
	// further; in [1, MaxListItems/16]. Default 16: a list of 16
	// fingerprints (128 B) costs less than the 16 child summaries
	// (~170 B) and the round trip it replaces.
	ListThreshold int
	// MessageBudget is the size in bytes a built message stays under (one
	// response may exceed it, within MaxMessageSize); in [64,
	// MaxMessageSize]. Smaller values split a level over several messages
	// (tests use them). Default MaxMessageSize: all differing ranges of a
	// level go in one message, so each round trip descends two levels.
	MessageBudget int
}

// DefaultConfig returns the defaults described on Config.
func DefaultConfig() Config {
	return Config{ListThreshold: 16, MessageBudget: MaxMessageSize}
}

// Validate returns nil if c can run a session, or an error listing every
// invalid field, each wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.ListThreshold < 1 || c.ListThreshold > MaxListItems/listRatio {
		bad("ListThreshold %d out of [1, %d] (default %d)", c.ListThreshold, MaxListItems/listRatio, DefaultConfig().ListThreshold)
	}
	if c.MessageBudget < minMessageBudget || c.MessageBudget > MaxMessageSize {
		bad("MessageBudget %d out of [%d, %d] (default %d)", c.MessageBudget, minMessageBudget, MaxMessageSize, DefaultConfig().MessageBudget)
	}
	return errors.Join(errs...)
}

// minMessageBudget is the smallest MessageBudget: room for a message's
// header and a few responses.
const minMessageBudget = 64

// listRatio bounds how lopsided a listed range may be: a side lists its
// items only if it holds at most listRatio times as many as the other
// side (or ListThreshold), and sends items one by one only while fewer
// than one in listRatio of them would be redundant; otherwise the range is
// streamed whole.
const listRatio = 16

// Span is a range with an item count: a range the peer streams whole, and
// the number of items the peer said it holds there.
type Span struct {
	Range
	Count uint64
}

// Outcome is what a session found this side must do.
type Outcome struct {
	// Send lists the items this side must send: the peer lacks them or
	// holds another state of the same key. Keys are copies.
	Send []Item
	// Stream lists the ranges this side must send whole (the peer holds
	// nothing there, or too little to be worth listing), ascending and
	// with adjacent ranges merged.
	Stream []Range
	// Receive lists the ranges the peer announced it streams whole, with
	// the item counts it claimed: the progress estimate of a bootstrap,
	// not to be trusted for more. Ascending, adjacent spans merged.
	Receive []Span
	// Held lists the fingerprints of items in Stream ranges that the peer
	// holds too (it listed the same fingerprint): a range is streamed whole
	// when nearly all of this side's items there are missing, so these few
	// are sent although the peer has them. Every other item this side
	// sends, the peer lacks or holds in another version. Unordered.
	Held []uint64
}

// Empty reports whether o asks for nothing.
func (o Outcome) Empty() bool { return len(o.Send) == 0 && len(o.Stream) == 0 && len(o.Receive) == 0 }

// Stats counts a session's traffic.
type Stats struct {
	MessagesSent, MessagesReceived int   // messages returned by Start/Handle, and passed to Handle
	BytesSent, BytesReceived       int64 // their sizes
}

// question is one range a side asked the other about: a summary question
// (sum is the asker's summary) or an item-list question (fps are the
// asker's fingerprints in ascending hash order).
type question struct {
	node
	list bool
	sum  Summary
	fps  []uint64
}

func (q *question) weight() int { return 1 + len(q.fps) }

// fifo is a queue of questions with their total weight.
type fifo struct {
	q      []question
	head   int
	weight int
}

func (f *fifo) len() int           { return len(f.q) - f.head }
func (f *fifo) at(i int) *question { return &f.q[f.head+i] }
func (f *fifo) push(qs ...question) {
	for i := range qs {
		f.weight += qs[i].weight()
	}
	f.q = append(f.q, qs...)
}

// drop removes the n oldest questions.
func (f *fifo) drop(n int) {
	for i := f.head; i < f.head+n; i++ {
		f.weight -= f.q[i].weight()
		f.q[i] = question{}
	}
	f.head += n
	if f.head == len(f.q) {
		f.q, f.head = f.q[:0], 0
	} else if f.head > 1024 && f.head > len(f.q)/2 {
		n := copy(f.q, f.q[f.head:])
		clear(f.q[n:])
		f.q, f.head = f.q[:n], 0
	}
}

type phase uint8

const (
	phaseNew phase = iota
	phaseRunning
	phaseDone
	phaseFailed
)

// Session is one side of a reconciliation: a pure state machine over an
// Index, with no I/O, goroutines or clock. The initiator calls Start and
// sends the result; then each side passes every message it receives to
// Handle and sends back the reply, until Handle reports done. Messages
// strictly alternate.
//
// Each message answers questions the peer asked in earlier messages, in
// order, and asks new ones: a summary question compares a range of the
// tree, an item-list question compares the items of a range. Identical
// replicas finish in one round trip; otherwise each round trip descends
// two levels of the tree, all differing ranges of a level in one message.
//
// A Session is not safe for concurrent use. After an error, every method
// returns it; the outcome gathered from the valid messages before it is
// still correct (sending it is safe).
type Session struct {
	ix        Index
	cfg       Config
	initiator bool
	phase     phase
	err       error
	open      fifo // questions this side asked, not yet answered
	inbox     fifo // questions the peer asked, not yet answered
	out       Outcome
	stats     Stats
}

// NewInitiator returns the side of a session that speaks first (Start).
// It fails if cfg is invalid (see Config.Validate).
func NewInitiator(ix Index, cfg Config) (*Session, error) { return newSession(ix, cfg, true) }

// NewResponder returns the side of a session that answers the initiator's
// first message. It fails if cfg is invalid (see Config.Validate).
func NewResponder(ix Index, cfg Config) (*Session, error) { return newSession(ix, cfg, false) }

func newSession(ix Index, cfg Config, initiator bool) (*Session, error) {
	if ix == nil {
		return nil, errors.New("reconcile: nil Index")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Session{ix: ix, cfg: cfg, initiator: initiator}, nil
}

// Start returns the initiator's first message: its summary of the whole
// hash space.
func (s *Session) Start() ([]byte, error) {
	if !s.initiator || s.phase != phaseNew {
		return nil, fmt.Errorf("%w: Start", ErrState)
	}
	root := s.summarize(node{})
	s.open.push(question{sum: root})
	m := Message{Root: &root}
	b, err := m.Marshal()
	if err != nil {
		return nil, s.fail(err)
	}
	s.phase = phaseRunning
	s.stats.MessagesSent++
	s.stats.BytesSent += int64(len(b))
	return b, nil
}

// Handle processes a message from the peer. It returns the reply to send
// (nil if there is none) and whether the session is over; a reply
// returned with done = true is the last message and must still be sent.
// An error ends the session; it wraps ErrMalformed if the peer's message
// was at fault.
func (s *Session) Handle(in []byte) (out []byte, done bool, err error) {
	switch {
	case s.phase == phaseFailed:
		return nil, false, s.err
	case s.phase == phaseDone:
		return nil, true, fmt.Errorf("%w: Handle after the session ended", ErrState)
	case s.phase == phaseNew && s.initiator:
		return nil, false, fmt.Errorf("%w: Handle before Start", ErrState)
	}
	s.stats.MessagesReceived++
	s.stats.BytesReceived += int64(len(in))
	if s.stats.MessagesReceived > MaxMessages {
		return nil, false, s.fail(malformed("more than %d messages in one session", MaxMessages))
	}
	m, err := Unmarshal(in)
	if err != nil {
		return nil, false, s.fail(err)
	}
	if err := s.receive(&m); err != nil {
		return nil, false, s.fail(err)
	}
	reply, err := s.build()
	if err != nil {
		return nil, false, s.fail(err)
	}
	done = s.inbox.len() == 0 && s.open.len() == 0
	if done {
		s.phase = phaseDone
		if reply.Ack == 0 && len(reply.Responses) == 0 {
			return nil, true, nil
		}
	}
	b, err := reply.Marshal()
	if err != nil {
		return nil, false, s.fail(fmt.Errorf("reconcile: built a bad message: %w", err))
	}
	s.stats.MessagesSent++
	s.stats.BytesSent += int64(len(b))
	return b, done, nil
}

// Done reports whether the session ended without error.
func (s *Session) Done() bool { return s.phase == phaseDone }

// Stats returns the traffic of the session so far.
func (s *Session) Stats() Stats { return s.stats }

// TakeOutcome returns what the session found since the last call, and
// forgets it. A caller may take it after every Handle to start sending
// early, or once at the end.
func (s *Session) TakeOutcome() Outcome {
	o := s.out
	s.out = Outcome{}
	o.Stream = mergeRanges(o.Stream)
	o.Receive = mergeSpans(o.Receive)
	return o
}

func (s *Session) fail(err error) error {
	s.phase, s.err = phaseFailed, err
	return err
}

func (s *Session) summarize(n node) Summary {
	r := n.rng()
	sum := s.ix.Summarize(r.Lo, r.Hi)
	if sum.Count == 0 {
		sum.Hash = 0 // an empty range has nothing to compare
	}
	return sum
}

// receive checks m against the session, then applies it: the answers to
// this side's open questions update the outcome, the peer's new questions
// join the inbox. Nothing changes unless all of m is valid.
func (s *Session) receive(m *Message) error {
	if s.phase == phaseNew { // a responder's first message
		if m.Root == nil || m.Ack != 0 || len(m.Responses) != 0 {
			return malformed("first message must carry only the root summary")
		}
		s.phase = phaseRunning
		s.inbox.push(question{sum: *m.Root})
		return nil
	}
	if m.Root != nil {
		return malformed("root summary after the first message")
	}
	open := uint64(s.open.len())
	if m.Ack > open {
		return malformed("acknowledges %d questions, %d are open", m.Ack, open)
	}
	if m.Ack == 0 && open > 0 {
		return malformed("acknowledges none of %d open questions", open)
	}
	// Check every response against its question before changing anything.
	pos, newWeight, newCount := uint64(0), 0, 0
	for i := range m.Responses {
		r := &m.Responses[i]
		if r.Skip >= m.Ack-pos {
			return malformed("response %d: answers a question beyond the %d acknowledged", i, m.Ack)
		}
		pos += r.Skip
		q := s.open.at(int(pos))
		pos++
		if err := checkAnswer(q, r); err != nil {
			return malformed("response %d (%v): %w", i, q.node, err)
		}
		switch r.Kind {
		case KindChildren:
			newWeight += rangetree.Fanout
			newCount += rangetree.Fanout
		case KindItems:
			newWeight += 1 + len(r.Fingerprints)
			newCount++
		}
	}
	if s.inbox.weight+newWeight > maxPending {
		return malformed("peer's questions outgrow %d", maxPending)
	}
	// Apply.
	var add Outcome
	asked := make([]question, 0, newCount)
	pos = 0
	for i := range m.Responses {
		r := &m.Responses[i]
		pos += r.Skip
		q := s.open.at(int(pos))
		pos++
		rng := q.rng()
		switch r.Kind {
		case KindChildren:
			for c, sum := range r.Children {
				asked = append(asked, question{node: q.child(c), sum: sum})
			}
		case KindItems:
			asked = append(asked, question{node: q.node, list: true, fps: r.Fingerprints})
		case KindNeed:
			need := make(map[uint64]struct{}, len(r.Need))
			for _, x := range r.Need {
				need[q.fps[x]] = struct{}{}
			}
			err := s.ix.Items(rng.Lo, rng.Hi, func(it Item) error {
				if _, ok := need[it.Fingerprint]; ok && rng.Contains(it.Hash) {
					add.Send = append(add.Send, cloneItem(it))
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("reconcile: reading items of %v: %w", rng, err)
			}
		case KindStreamToMe:
			add.Stream = append(add.Stream, rng)
		case KindStreaming:
			add.Receive = append(add.Receive, Span{rng, r.Count})
		case KindStreamBoth:
			add.Stream = append(add.Stream, rng)
			add.Receive = append(add.Receive, Span{rng, r.Count})
		}
	}
	s.open.drop(int(m.Ack))
	s.inbox.push(asked...)
	s.addOutcome(add)
	return nil
}

// checkAnswer checks that r is a possible answer to this side's question q.
func checkAnswer(q *question, r *Response) error {
	if q.list {
		if r.Kind != KindNeed {
			return fmt.Errorf("%v answers an item list", r.Kind)
		}
		if last := r.Need[len(r.Need)-1]; int(last) >= len(q.fps) {
			return fmt.Errorf("needs position %d of a list of %d", last, len(q.fps))
		}
		return nil
	}
	switch r.Kind {
	case KindChildren, KindItems, KindStreamToMe, KindStreamBoth:
		if q.sum.Count == 0 {
			// A range this side is empty in is always answered by streaming.
			return fmt.Errorf("%v for a range this side holds nothing in", r.Kind)
		}
		if r.Kind == KindChildren && q.level >= rangetree.LeafLevel {
			return fmt.Errorf("children of a leaf")
		}
	case KindStreaming:
		if q.sum.Count != 0 {
			return fmt.Errorf("streaming a range this side holds %d items in", q.sum.Count)
		}
	default:
		return fmt.Errorf("%v answers a summary", r.Kind)
	}
	return nil
}

func (s *Session) addOutcome(a Outcome) {
	s.out.Send = append(s.out.Send, a.Send...)
	s.out.Stream = append(s.out.Stream, a.Stream...)
	s.out.Receive = append(s.out.Receive, a.Receive...)
	s.out.Held = append(s.out.Held, a.Held...)
}

// answer is what this side does about one question of the peer: an
// optional response, its effects on the outcome, and the new questions.
type answer struct {
	resp  *Response
	out   Outcome
	asked []question
}

// build answers the peer's questions in order while the reply stays within
// budget (always at least one, so the session progresses).
func (s *Session) build() (Message, error) {
	var m Message
	size := 16 // the ack field, with room to spare
	skip := uint64(0)
	openWeight := s.open.weight
	n := 0
	for ; n < s.inbox.len(); n++ {
		q := s.inbox.at(n)
		a, err := s.answer(q)
		if err != nil {
			return m, err
		}
		if a.resp == nil {
			skip++
			s.addOutcome(a.out)
			continue
		}
		a.resp.Skip = skip
		rs := responseSize(a.resp)
		w := 0
		for i := range a.asked {
			w += a.asked[i].weight()
		}
		if n > 0 && (size+rs > s.cfg.MessageBudget || openWeight+w > openSoftCap || len(m.Responses) == MaxResponses) {
			break
		}
		size += rs
		openWeight += w
		skip = 0
		m.Responses = append(m.Responses, *a.resp)
		s.addOutcome(a.out)
		s.open.push(a.asked...)
	}
	s.inbox.drop(n)
	m.Ack = uint64(n)
	return m, nil
}

// answer decides what to do about the peer's question q.
func (s *Session) answer(q *question) (answer, error) {
	if q.list {
		return s.answerList(q)
	}
	rng := q.rng()
	mine, theirs := s.summarize(q.node), q.sum
	switch {
	case mine == theirs:
		return answer{}, nil
	case theirs.Count == 0:
		return answer{
			resp: &Response{Kind: KindStreaming, Count: mine.Count},
			out:  Outcome{Stream: []Range{rng}},
		}, nil
	case mine.Count == 0:
		return answer{
			resp: &Response{Kind: KindStreamToMe},
			out:  Outcome{Receive: []Span{{rng, theirs.Count}}},
		}, nil
	}
	t := uint64(s.cfg.ListThreshold)
	canDescend := q.level < rangetree.LeafLevel
	if canDescend && min(mine.Count, theirs.Count) > t {
		return s.children(q), nil
	}
	if mine.Count <= MaxListItems && (mine.Count+listRatio-1)/listRatio <= max(theirs.Count, t) {
		fps := make([]uint64, 0, mine.Count)
		err := s.ix.Items(rng.Lo, rng.Hi, func(it Item) error {
			if !rng.Contains(it.Hash) {
				return nil
			}
			if len(fps) == MaxListItems {
				return errOverflow
			}
			fps = append(fps, it.Fingerprint)
			return nil
		})
		switch {
		case err == nil:
			return answer{
				resp:  &Response{Kind: KindItems, Fingerprints: fps},
				asked: []question{{node: q.node, list: true, fps: fps}},
			}, nil
		case !errors.Is(err, errOverflow):
			return answer{}, fmt.Errorf("reconcile: reading items of %v: %w", rng, err)
		}
		// The range grew past a list while we read it: stream it.
	} else if canDescend {
		// Few items on their side, many on ours: descend to isolate theirs.
		return s.children(q), nil
	}
	return answer{
		resp: &Response{Kind: KindStreamBoth, Count: mine.Count},
		out:  Outcome{Stream: []Range{rng}, Receive: []Span{{rng, theirs.Count}}},
	}, nil
}

func (s *Session) children(q *question) answer {
	cs := make([]Summary, rangetree.Fanout)
	asked := make([]question, rangetree.Fanout)
	for i := range cs {
		c := q.child(i)
		cs[i] = s.summarize(c)
		asked[i] = question{node: c, sum: cs[i]}
	}
	return answer{resp: &Response{Kind: KindChildren, Children: cs}, asked: asked}
}

// answerList compares the peer's item list of a range with ours: ours
// that it lacks are sent (or the range streamed, if nearly all of ours
// are missing there), and theirs that we lack are asked for by position.
func (s *Session) answerList(q *question) (answer, error) {
	rng := q.rng()
	pos := make(map[uint64]int, len(q.fps))
	for i := len(q.fps) - 1; i >= 0; i-- {
		pos[q.fps[i]] = i // the first of equal fingerprints wins
	}
	matched := make([]bool, len(q.fps))
	nMatched := 0
	var send []Item
	overflow := false
	err := s.ix.Items(rng.Lo, rng.Hi, func(it Item) error {
		if !rng.Contains(it.Hash) {
			return nil
		}
		if i, ok := pos[it.Fingerprint]; ok && !matched[i] {
			matched[i] = true
			nMatched++
			return nil
		}
		if overflow {
			return nil
		}
		if len(send) == MaxListItems {
			overflow, send = true, nil
			return nil
		}
		send = append(send, cloneItem(it))
		return nil
	})
	if err != nil {
		return answer{}, fmt.Errorf("reconcile: reading items of %v: %w", rng, err)
	}
	var a answer
	if overflow || (len(send) > s.cfg.ListThreshold && len(send) >= listRatio*nMatched) {
		a.out.Stream = []Range{rng}
		for i, ok := range matched {
			if ok {
				a.out.Held = append(a.out.Held, q.fps[i])
			}
		}
	} else {
		a.out.Send = send
	}
	var need []uint32
	for i, ok := range matched {
		if !ok {
			need = append(need, uint32(i))
		}
	}
	if len(need) > 0 {
		a.resp = &Response{Kind: KindNeed, Need: need}
	}
	return a, nil
}

func mergeRanges(rs []Range) []Range {
	slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.Lo, b.Lo) })
	out := rs[:0]
	for _, r := range rs {
		if k := len(out) - 1; k >= 0 && out[k].Hi != math.MaxUint64 && out[k].Hi+1 == r.Lo {
			out[k].Hi = r.Hi
			continue
		}
		out = append(out, r)
	}
	return out
}

func mergeSpans(ss []Span) []Span {
	slices.SortFunc(ss, func(a, b Span) int { return cmp.Compare(a.Lo, b.Lo) })
	out := ss[:0]
	for _, sp := range ss {
		if k := len(out) - 1; k >= 0 && out[k].Hi != math.MaxUint64 && out[k].Hi+1 == sp.Lo {
			out[k].Hi = sp.Hi
			out[k].Count += sp.Count
			continue
		}
		out = append(out, sp)
	}
	return out
}
