package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Add-wins sets. Each set has members of three kinds: shared ("e<j>",
// added and removed through any peer: concurrent adds and removes),
// owned ("p<i>-o<j>", added and removed only through peer i: a remove
// there has seen every add), and kept ("k<j>", only ever added).
const (
	setKeyPrefix = "S/"
	setCount     = 2
)

// setOp adds or removes one member of one set through peer.
func (w *workload) setOp(ctx context.Context, proc, peer int, addr string, rng *rand.Rand) {
	key := fmt.Sprintf("%s%d", setKeyPrefix, rng.IntN(setCount))
	var member string
	add := rng.IntN(5) < 3
	switch rng.IntN(5) {
	case 0, 1:
		member = fmt.Sprintf("e%d", rng.IntN(6))
	case 2, 3:
		member = fmt.Sprintf("p%d-o%d", peer+1, rng.IntN(3))
	default:
		member, add = fmt.Sprintf("k%d", rng.IntN(8)), true
	}
	f := FSetRem
	if add {
		f = FSetAdd
	}
	op := w.hist.Invoke(Op{Process: proc, F: f, Peer: peer, Key: key, Value: member})
	err := w.c.SetOp(opCtx(ctx), addr, key, member, add)
	op.Type = classify(err)
	if err != nil {
		op.Error = err.Error()
	}
	w.hist.Complete(op)
}

// never is a completion time later than any: that of an info operation,
// which may take effect at any time.
const never = time.Duration(1<<63 - 1)

// checkSets: the add-wins (observed-remove) rules, exact for a leaderless
// store. A remove takes out only the adds its peer had applied when it
// ran; an add's effect exists from some instant within its request.
//   - must be present: a member with an ok add A such that no ok or info
//     remove of it completed after A was invoked (no remove can have
//     seen A, so none took it out);
//   - must be absent: a member with an ok remove R through peer P such
//     that every add of it was ok, went through P, and completed before R
//     was invoked (P had applied them all, so R took them all out, and
//     nothing added it again);
//   - never a member no ok or info add added; all live peers read the
//     same members.
//
// A remove invoked after an add completed may still miss it (its peer
// had not received it: a partition), so "later remove wins" is not a
// rule; and one invoked before an add completed may have seen it.
func checkSets(in Input) Result {
	res := Result{Name: "sets", Valid: true}
	bad := map[string][]string{}
	type member struct{ key, m string }
	adds := map[member][]Op{}
	rems := map[member][]Op{}
	var okAdds, okRems int
	for _, op := range in.Ops {
		if op.Type == TypeFail {
			continue
		}
		k := member{op.Key, op.Value}
		switch op.F {
		case FSetAdd:
			adds[k] = append(adds[k], op)
			if op.Type == TypeOK {
				okAdds++
			}
		case FSetRem:
			rems[k] = append(rems[k], op)
			if op.Type == TypeOK {
				okRems++
			}
		}
	}
	done := func(op Op) time.Duration {
		if op.Type == TypeInfo {
			return never
		}
		return op.Complete
	}
	present, absent := map[member]bool{}, map[member]bool{}
	for k, as := range adds {
		for _, a := range as {
			if a.Type != TypeOK {
				continue
			}
			if !slices.ContainsFunc(rems[k], func(r Op) bool { return done(r) > a.Invoke }) {
				present[k] = true
			}
		}
	}
	for k, rs := range rems {
		for _, r := range rs {
			if r.Type == TypeOK && !slices.ContainsFunc(adds[k], func(a Op) bool {
				return a.Type != TypeOK || a.Peer != r.Peer || a.Complete >= r.Invoke
			}) {
				absent[k] = true
			}
		}
	}
	var missing, resurrected, phantom, divergent int
	live := in.live()
	for _, key := range in.SetKeys {
		var first []string
		for i, f := range live {
			ms, ok := f.Sets[key]
			if !ok {
				continue
			}
			if i == 0 {
				first = ms
			} else if !slices.Equal(ms, first) {
				divergent++
				bad[key] = append(bad[key], fmt.Sprintf("p%d reads {%s}, p%d reads {%s}", live[0].Peer+1, strings.Join(first, " "), f.Peer+1, strings.Join(ms, " ")))
			}
			has := map[string]bool{}
			for _, m := range ms {
				has[m] = true
				k := member{key, m}
				if len(adds[k]) == 0 {
					phantom++
					bad[key] = append(bad[key], fmt.Sprintf("p%d holds %q, which no ok or info add added", f.Peer+1, m))
				}
				if absent[k] {
					resurrected++
					bad[key] = append(bad[key], fmt.Sprintf("p%d holds %q, removed through p%d after every add of it there", f.Peer+1, m, lastRem(rems[k])+1))
				}
			}
			for k := range present {
				if k.key == key && !has[k.m] {
					missing++
					bad[key] = append(bad[key], fmt.Sprintf("p%d lacks %q, added (ok) with no remove that could have seen the add", f.Peer+1, k.m))
				}
			}
		}
	}
	res.Valid = missing+resurrected+phantom+divergent == 0
	res.Summary = fmt.Sprintf("sets %d, ok adds %d, ok removes %d; members that must be present %d, must be absent %d; missing %d, present after their removal %d, phantom %d, divergent %d",
		len(in.SetKeys), okAdds, okRems, len(present), len(absent), missing, resurrected, phantom, divergent)
	res.Offending = flatten(bad)
	return res
}

// lastRem returns the peer of the last ok remove in rs.
func lastRem(rs []Op) int {
	p := -1
	for _, r := range rs {
		if r.Type == TypeOK {
			p = r.Peer
		}
	}
	return p
}
