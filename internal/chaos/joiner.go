package chaos

import (
	"fmt"
	"time"
)

// JoinReport describes a new peer started mid-run.
type JoinReport struct {
	Peer   int           `json:"peer"`
	At     time.Duration `json:"at_ns"`  // when it served its API, since the start of the run
	Joined bool          `json:"joined"` // false: it never started
}

// checkJoiners: each new peer started, and ends holding every register and
// counter value a first peer holds, in particular those written before it
// joined, which only its bootstrap could bring. (Convergence covers this
// too; this checker says which peer and how much it received.)
func checkJoiners(in Input) Result {
	res := Result{Name: "joiner", Valid: true}
	if len(in.Joins) == 0 {
		res.Summary = "no new peer in this run"
		return res
	}
	joiner := map[int]bool{}
	for _, j := range in.Joins {
		joiner[j.Peer] = true
	}
	var ref *FinalState
	for i := range in.Final {
		if f := &in.Final[i]; f.Live && !joiner[f.Peer] {
			ref = f
			break
		}
	}
	puts := in.puts()
	var summaries []string
	bad := map[string][]string{}
	for _, j := range in.Joins {
		name := fmt.Sprintf("p%d", j.Peer+1)
		var f *FinalState
		for i := range in.Final {
			if in.Final[i].Peer == j.Peer && in.Final[i].Live {
				f = &in.Final[i]
			}
		}
		switch {
		case !j.Joined:
			res.Valid = false
			bad[name] = append(bad[name], "never joined")
			continue
		case f == nil || ref == nil:
			res.Valid = false
			bad[name] = append(bad[name], "not readable at the end (or no first peer is)")
			continue
		}
		var keys, before, missing int
		for k, r := range ref.Registers {
			if r.Absent {
				continue
			}
			keys++
			if w, ok := puts[k+"\x00"+r.Value]; ok && w.Complete > 0 && w.Complete < j.At {
				before++
			}
			if got := f.Registers[k]; got != r {
				missing++
				if len(bad[name]) < 10 {
					bad[name] = append(bad[name], fmt.Sprintf("%s: p%d holds %q@%d, %s holds %q@%d (absent %v)", k, ref.Peer+1, r.Value, r.Version, name, got.Value, got.Version, got.Absent))
				}
			}
		}
		for k, v := range ref.Counters {
			if f.Counters[k] != v {
				missing++
				bad[name] = append(bad[name], fmt.Sprintf("counter %s: p%d reads %d, %s %d", k, ref.Peer+1, v, name, f.Counters[k]))
			}
		}
		if missing > 0 {
			res.Valid = false
		}
		summaries = append(summaries, fmt.Sprintf("%s joined at %s, holds %d of the %d live keys of p%d (%d written before it joined), %d counters; missing or different %d",
			name, j.At.Round(100*time.Millisecond), keys-missing, keys, ref.Peer+1, before, len(ref.Counters), missing))
	}
	res.Summary = fmt.Sprint(summaries)
	if len(summaries) == 1 {
		res.Summary = summaries[0]
	}
	res.Offending = flatten(bad)
	return res
}
