package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// bigNS is the namespace of the write-once large values: each of its keys
// is put once, 1 MiB up to --max-value-size, and never written again, so
// every peer must end holding every acknowledged one. It stays out of the
// convergence listing (megabytes per poll); its keys are read one by one
// once the rest has converged (readBig).
const bigNS = "big"

// bigProcess is the history's process number of the write-once puts.
const bigProcess = 9100

// bigWrites puts one write-once large value at a quarter, half and three
// quarters of the run (sizes: the maximum, a random size from 1 MiB, the
// maximum), each through the next running, unpaused peer; a failed put is
// retried under a new key through another peer.
func (w *workload) bigWrites(ctx context.Context, start time.Time, rng *rand.Rand) {
	n := 0
	for i, at := range []int{1, 2, 3} {
		sleep(ctx, time.Until(start.Add(w.cfg.Duration*time.Duration(at)/4)))
		size := w.cfg.MaxValueSize
		if i == 1 {
			size = 1<<20 + rng.IntN(w.cfg.MaxValueSize-1<<20)
		}
		for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
			d := w.peers[(i+attempt)%w.cfg.Peers]
			if !d.Running() || d.Paused() || d.API() == "" {
				continue
			}
			n++
			key := qualified(bigNS, fmt.Sprintf("v/%d", n))
			text := fmt.Sprintf("big%d", n)
			if w.putValue(ctx, bigProcess, d.Index, d.API(), key, text+bigSep+strings.Repeat("x", size-len(text)-len(bigSep))) == TypeOK {
				break
			}
		}
	}
}

// readBig reads every write-once large value acknowledged in ops on every
// live peer into its final state, waiting (until deadline) for each to
// arrive at its acknowledged version.
func readBig(ctx context.Context, c *Client, peers []*Daemon, ops []Op, final []FinalState, deadline time.Time) {
	want := map[string]Op{}
	for _, op := range ops {
		if op.Process == bigProcess && op.F == FPut && op.Type == TypeOK {
			want[op.Key] = op
		}
	}
	for {
		done := true
		for i := range final {
			if !final[i].Live {
				continue
			}
			for key, op := range want {
				if r, ok := final[i].Registers[key]; ok && r.Value == op.Value && r.Version == op.Version {
					continue
				}
				r, err := c.Get(ctx, peers[i].API(), key)
				if err != nil {
					done = false
					continue
				}
				final[i].Registers[key] = r
				if r.Value != op.Value || r.Version != op.Version {
					done = false
				}
			}
		}
		if done || time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		sleep(ctx, 500*time.Millisecond)
	}
}

// checkBigValues: every acknowledged write-once large value is on every
// live peer at the end, at its version. It also reports the large puts to
// the registers (checked by lww).
func checkBigValues(in Input) Result {
	res := Result{Name: "big-values", Valid: true}
	bad := map[string][]string{}
	var puts, largest, missing int
	live := in.live()
	for _, op := range in.Ops {
		if op.Process != bigProcess || op.F != FPut || op.Type != TypeOK {
			continue
		}
		puts++
		largest = max(largest, bigSize(op.Value))
		for _, f := range live {
			r, ok := f.Registers[op.Key]
			switch {
			case !ok:
				missing++
				bad[op.Key] = append(bad[op.Key], fmt.Sprintf("p%d: not readable", f.Peer+1))
			case r.Absent:
				missing++
				bad[op.Key] = append(bad[op.Key], fmt.Sprintf("p%d lacks the value %q acknowledged by p%d at version %d", f.Peer+1, op.Value, op.Peer+1, op.Version))
			case r.Value != op.Value || r.Version != op.Version:
				missing++
				bad[op.Key] = append(bad[op.Key], fmt.Sprintf("p%d reads %q@%d, acknowledged %q@%d", f.Peer+1, r.Value, r.Version, op.Value, op.Version))
			}
		}
	}
	regPuts, regLargest := 0, 0
	for _, op := range in.Ops {
		if op.Process != bigProcess && op.F == FPut && op.Type == TypeOK && bigSize(op.Value) > 0 {
			regPuts++
			regLargest = max(regLargest, bigSize(op.Value))
		}
	}
	res.Valid = missing == 0
	res.Summary = fmt.Sprintf("%d write-once values (largest %d bytes) checked on %d peers, missing or wrong %d; %d large puts to registers (largest %d bytes)",
		puts, largest, len(live), missing, regPuts, regLargest)
	res.Offending = flatten(bad)
	return res
}
