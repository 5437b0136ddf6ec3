package reconcile

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

// TestInteraction runs the scripts in testdata/*.txt: golden traces of
// whole sessions, in the style of etcd-io/raft's interaction tests. A
// change to the protocol shows up as a readable diff of the trace; after
// checking it, accept it with
//
//	go test ./gossip/reconcile/ -run TestInteraction -rewrite
//
// Commands (side is a, b or ab; keys are registers, placed at
// hashBytes(0, key) unless leaf= puts them in one leaf of the tree):
//
//	put <side> keys=(k1,k2,...) [v=1] [leaf=<hex>]
//	put <side> n=<count> [from=0] [prefix=key-] [v=1] [leaf=<hex>]
//	    add keys (generated keys are prefix + 5-digit i for i in [from, from+n))
//	drop <side> keys=(...) | n=<count> seed=<s>
//	    remove the keys, or n keys of the side chosen with a seeded PCG
//	bump <side> keys=(...) | n=<count> seed=<s>
//	    give the keys a new state (version + 1)
//	clear <side>
//	    remove every key
//	sync [budget=<bytes>] [threshold=<items>] [lines=<n>] [dry]
//	    run a session, a initiating; print its trace (at most lines
//	    responses per message) and outcome; then, unless dry, deliver
//	    what each side sends or streams, as anti-entropy would
//
// Each message is a line "n from→to size: ack k, responses r, settled s"
// (settled: questions acknowledged with nothing more to say),
// then one line per response: the node of the question it answers, what
// the receiver asked with, and what it carries.
//
// The trace names tree nodes by their hash prefix: "*" is the whole space,
// "3f*" node 0x3f of level 2, "3f01*" a leaf; a run of sibling ranges is
// "3f0*..3f3*". Items are named key@version.
func TestInteraction(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		env := newScriptEnv()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return env.run(t, d)
		})
	})
}

// scriptEnv is the state of one script: two replicas and the names of
// every state created.
type scriptEnv struct {
	sides   map[string]replica // "a" and "b"
	version map[string]uint64  // a key's latest version, on any side
	names   map[uint64]string  // fingerprint → key@version
}

func newScriptEnv() *scriptEnv {
	return &scriptEnv{
		sides:   map[string]replica{"a": {}, "b": {}},
		version: map[string]uint64{},
		names:   map[uint64]string{},
	}
}

func (e *scriptEnv) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "put":
		sides, keys := e.target(t, d)
		v := uint64(1)
		d.MaybeScanArgs(t, "v", &v)
		mode, leaf := -1, uint64(0)
		if d.HasArg("leaf") {
			var s string
			d.ScanArgs(t, "leaf", &s)
			l, err := strconv.ParseUint(s, 16, 64)
			if err != nil || l >= rangetree.Leaves {
				t.Fatalf("leaf=%s: want a hex leaf below %x", s, rangetree.Leaves)
			}
			mode, leaf = placeOneLeaf, l
		}
		for _, k := range keys {
			it := e.item(k, v, mode, leaf)
			for _, s := range sides {
				s[idOf(it)] = it
			}
		}
		return ""
	case "drop", "bump":
		sides, keys := e.target(t, d)
		for _, s := range sides {
			for _, k := range keys {
				id := id{crdt.TypeRegister, k}
				old, ok := s[id]
				if !ok {
					t.Fatalf("%s: %s holds no key %q", d.Cmd, d.CmdArgs[0].Key, k)
				}
				if d.Cmd == "drop" {
					delete(s, id)
					continue
				}
				v := e.version[k] + 1
				it := e.item(k, v, -1, 0)
				it.Hash = old.Hash // stays where it was placed
				s[id] = it
			}
		}
		return ""
	case "clear":
		sides, _ := e.sides1(t, d)
		for _, s := range sides {
			clear(s)
		}
		return ""
	case "sync":
		return e.sync(t, d)
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

// item returns the state key@v, placed by hash or (mode placeOneLeaf) in
// the given leaf.
func (e *scriptEnv) item(key string, v uint64, mode int, leaf uint64) Item {
	it := newItem(placeUniform, crdt.TypeRegister, []byte(key), v)
	if mode == placeOneLeaf {
		it.Hash = inLeaf(leaf, it.Hash)
	}
	e.version[key] = max(e.version[key], v)
	e.names[it.Fingerprint] = fmt.Sprintf("%s@%d", key, v)
	return it
}

// target returns the replicas named by the first argument and the keys
// the command is about: keys=(...), or n= generated (put) or drawn with
// seed= from the side's keys (drop, bump).
func (e *scriptEnv) target(t *testing.T, d *datadriven.TestData) ([]replica, []string) {
	sides, _ := e.sides1(t, d)
	if arg, ok := d.Arg("keys"); ok {
		return sides, arg.Vals
	}
	var n int
	d.ScanArgs(t, "n", &n)
	if d.Cmd == "put" {
		from, prefix := 0, "key-"
		d.MaybeScanArgs(t, "from", &from)
		d.MaybeScanArgs(t, "prefix", &prefix)
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("%s%05d", prefix, from+i)
		}
		return sides, keys
	}
	if len(sides) != 1 {
		t.Fatalf("%s n=: name one side", d.Cmd)
	}
	var seed uint64
	d.ScanArgs(t, "seed", &seed)
	var all []string
	for id := range sides[0] {
		all = append(all, id.key)
	}
	slices.Sort(all)
	rng := rand.New(rand.NewPCG(seed, 1))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	keys := all[:min(n, len(all))]
	slices.Sort(keys)
	return sides, keys
}

// sides1 returns the replicas named by the first argument: a, b or ab.
func (e *scriptEnv) sides1(t *testing.T, d *datadriven.TestData) ([]replica, string) {
	if len(d.CmdArgs) == 0 {
		t.Fatalf("%s: name a side: a, b or ab", d.Cmd)
	}
	switch name := d.CmdArgs[0].Key; name {
	case "a", "b":
		return []replica{e.sides[name]}, name
	case "ab":
		return []replica{e.sides["a"], e.sides["b"]}, name
	default:
		t.Fatalf("%s: unknown side %q", d.Cmd, name)
	}
	return nil, ""
}

// sync runs a session between a (initiator) and b and traces it.
func (e *scriptEnv) sync(t *testing.T, d *datadriven.TestData) string {
	cfg := DefaultConfig()
	d.MaybeScanArgs(t, "budget", &cfg.MessageBudget)
	d.MaybeScanArgs(t, "threshold", &cfg.ListThreshold)
	lines := 8
	d.MaybeScanArgs(t, "lines", &lines)
	a, b := e.sides["a"], e.sides["b"]
	ini, err := NewInitiator(indexOf(a, true), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewResponder(indexOf(b, true), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	fmt.Fprintf(&w, "a: %d items, b: %d items\n", len(a), len(b))
	msg, err := ini.Start()
	if err != nil {
		t.Fatal(err)
	}
	names := [2]string{"a", "b"}
	sides := [2]*Session{ini, res}
	bytes := [2]int{}
	from := 0 // the sender of msg
	for n := 1; msg != nil; n++ {
		to := 1 - from
		bytes[from] += len(msg)
		e.traceMessage(t, &w, n, names[from], names[to], msg, sides[to], lines)
		reply, _, err := sides[to].Handle(msg)
		if err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		msg, from = reply, to
		if n > 10000 {
			t.Fatal("session does not end")
		}
	}
	if !ini.Done() || !res.Done() {
		t.Fatal("a side does not report Done")
	}
	sa, sb := ini.Stats(), res.Stats()
	msgs := sa.MessagesSent + sb.MessagesSent
	fmt.Fprintf(&w, "total: %d messages, round trips %d, a→b %d B, b→a %d B\n", msgs, (msgs+1)/2, bytes[0], bytes[1])
	if int64(bytes[0]) != sa.BytesSent || int64(bytes[1]) != sb.BytesSent {
		t.Fatalf("Stats disagree with the trace: %+v %+v", sa, sb)
	}
	x := exchange{outA: ini.TakeOutcome(), outB: res.TakeOutcome()}
	e.traceOutcome(&w, "a", x.outA, lines)
	e.traceOutcome(&w, "b", x.outB, lines)
	a2, b2 := apply(a, b, x)
	if !d.HasArg("dry") {
		e.sides["a"], e.sides["b"] = a2, b2
	}
	if sameItems(a2, b2) {
		fmt.Fprintf(&w, "converged: %d items each\n", len(a2))
	} else {
		fmt.Fprintf(&w, "NOT converged: a %d items, b %d items\n", len(a2), len(b2))
	}
	return w.String()
}

// traceMessage prints one message: a header line, then one line per
// response (at most lines of them) naming the question it answers, which
// the receiver holds among its open questions.
func (e *scriptEnv) traceMessage(t *testing.T, w *strings.Builder, n int, from, to string, msg []byte, rcv *Session, lines int) {
	dir := from + "→" + to
	m, err := Unmarshal(msg)
	if err != nil {
		t.Fatalf("message %d does not decode: %v", n, err)
	}
	if m.Root != nil {
		fmt.Fprintf(w, "%d %s %d B: root (%s has %d)\n", n, dir, len(msg), from, m.Root.Count)
		return
	}
	fmt.Fprintf(w, "%d %s %d B: ack %d, responses %d", n, dir, len(msg), m.Ack, len(m.Responses))
	if settled := int(m.Ack) - len(m.Responses); settled > 0 {
		fmt.Fprintf(w, ", settled %d", settled)
	}
	w.WriteString("\n")
	kinds := map[Kind]int{}
	pos := 0
	for i, r := range m.Responses {
		pos += int(r.Skip)
		q := rcv.open.at(pos)
		pos++
		if i >= lines {
			kinds[r.Kind]++
			continue
		}
		fmt.Fprintf(w, "  %s %s\n", fmtNode(q.node), e.fmtResponse(to, q, &r))
	}
	if len(kinds) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(kinds)) {
			parts = append(parts, fmt.Sprintf("%v %d", k, kinds[k]))
		}
		fmt.Fprintf(w, "  … %d more: %s\n", len(m.Responses)-lines, strings.Join(parts, ", "))
	}
}

// fmtResponse formats r, the answer to question q of side to: what to
// asked with, then what the response carries.
func (e *scriptEnv) fmtResponse(to string, q *question, r *Response) string {
	if q.list {
		fps := make([]uint64, len(r.Need))
		for i, x := range r.Need {
			fps[i] = q.fps[x]
		}
		return fmt.Sprintf("(%s listed %d): need %d: %s", to, len(q.fps), len(fps), e.fmtFingerprints(fps))
	}
	asked := fmt.Sprintf("(%s has %d)", to, q.sum.Count)
	switch r.Kind {
	case KindChildren:
		counts := make([]string, len(r.Children))
		for i, c := range r.Children {
			counts[i] = strconv.FormatUint(c.Count, 10)
		}
		return fmt.Sprintf("%s: children %s", asked, strings.Join(counts, " "))
	case KindItems:
		return fmt.Sprintf("%s: items %d: %s", asked, len(r.Fingerprints), e.fmtFingerprints(r.Fingerprints))
	case KindStreamToMe:
		return fmt.Sprintf("%s: stream-to-me", asked)
	}
	return fmt.Sprintf("%s: %v %d", asked, r.Kind, r.Count)
}

// fmtFingerprints names fingerprints (in the order given), at most 6.
func (e *scriptEnv) fmtFingerprints(fps []uint64) string {
	const most = 6
	var parts []string
	for i, fp := range fps {
		if i == most {
			parts = append(parts, fmt.Sprintf("… +%d", len(fps)-most))
			break
		}
		name, ok := e.names[fp]
		if !ok {
			name = fmt.Sprintf("%016x", fp)
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, " ")
}

func (e *scriptEnv) traceOutcome(w *strings.Builder, side string, o Outcome, lines int) {
	if o.Empty() {
		fmt.Fprintf(w, "%s: nothing to do\n", side)
		return
	}
	if len(o.Send) > 0 {
		names := make([]string, len(o.Send))
		for i, it := range o.Send {
			names[i] = e.names[it.Fingerprint]
		}
		slices.Sort(names)
		fmt.Fprintf(w, "%s sends %d: %s\n", side, len(names), clip(names, lines))
	}
	if len(o.Stream) > 0 {
		rs := make([]string, len(o.Stream))
		for i, r := range o.Stream {
			rs[i] = fmtRange(r)
		}
		fmt.Fprintf(w, "%s streams: %s\n", side, clip(rs, lines))
	}
	if len(o.Receive) > 0 {
		rs := make([]string, len(o.Receive))
		for i, sp := range o.Receive {
			rs[i] = fmt.Sprintf("%s (%d items)", fmtRange(sp.Range), sp.Count)
		}
		fmt.Fprintf(w, "%s receives: %s\n", side, clip(rs, lines))
	}
}

// clip joins the first n of ss and counts the rest.
func clip(ss []string, n int) string {
	if len(ss) <= n {
		return strings.Join(ss, " ")
	}
	return strings.Join(ss[:n], " ") + fmt.Sprintf(" … +%d", len(ss)-n)
}

// fmtNode names a node by its hash prefix: L hex digits at level L.
func fmtNode(n node) string {
	if n.level == 0 {
		return "*"
	}
	return fmt.Sprintf("%0*x*", int(n.level), n.index)
}

// fmtRange names r as a node, or a run of siblings at the coarsest level
// whose node bounds it falls on, or else in hexadecimal.
func fmtRange(r Range) string {
	for l := 0; l <= rangetree.LeafLevel; l++ {
		first, last := rangetree.NodeOf(l, r.Lo), rangetree.NodeOf(l, r.Hi)
		if rangetree.NodeRange(l, first).Lo != r.Lo || rangetree.NodeRange(l, last).Hi != r.Hi {
			continue
		}
		if first == last {
			return fmtNode(node{uint8(l), first})
		}
		return fmtNode(node{uint8(l), first}) + ".." + fmtNode(node{uint8(l), last})
	}
	return r.String()
}
