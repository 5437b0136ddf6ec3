package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// FaultCounts counts the faults a run injected.
type FaultCounts struct {
	Partitions      int            // partitions started and healed
	PartitionKinds  map[string]int // by kind
	Kills           int            // kill -9 followed by a restart
	PowerLosses     int            // of which power losses: un-fsynced data dropped before the restart
	RestartFailures int            // restarts that did not come up (retried)
	Pauses          int            // SIGSTOP … SIGCONT
	Skews           int            // clock skews set and reset
	SkewsBeyond     int            // of which beyond the maximum drift
}

// nemesis injects faults in rounds.
type nemesis struct {
	cfg     Config
	hist    *History
	c       *Client
	peers   []*Daemon
	part    partitioner
	disks   *disks // nil: no power loss
	kills   int    // kills begun; every third, from the first, is a power loss
	rng     *rand.Rand
	start   time.Time
	counts  FaultCounts
	durable []DurabilityCheck
	peerIDs []string
	away    AbsenceReport // written by absence only, read after it returns
	skews   []SkewWindow  // written by run and healAll, read after them

	mu struct {
		sync.Mutex
		away int // the peer held away by absence, or -1
	}
}

func (n *nemesis) log(format string, args ...any) {
	fmt.Fprintf(n.cfg.Log, "%7.1fs nemesis: %s\n", time.Since(n.start).Seconds(), fmt.Sprintf(format, args...))
}

func (n *nemesis) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)))
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// run starts rounds until end; each round runs to its end and heals its
// faults before the next, so ctx is the harness's, not the workload's.
func (n *nemesis) run(ctx context.Context, end time.Time) {
	n.counts.PartitionKinds = map[string]int{}
	sleep(ctx, min(time.Until(end), n.between(n.cfg.RoundMin/2, n.cfg.RoundMin)))
	for ctx.Err() == nil && time.Now().Before(end) {
		t0 := time.Now()
		n.round(ctx, end)
		sleep(ctx, min(time.Until(end), time.Until(t0.Add(n.between(n.cfg.RoundMin, n.cfg.RoundMax)))))
	}
}

func names(peers []int) string {
	var s []string
	for _, p := range peers {
		s = append(s, fmt.Sprintf("p%d", p+1))
	}
	return "{" + strings.Join(s, " ") + "}"
}

// partition picks a partition: cuts and a description.
func (n *nemesis) partition() (string, []cut, string) {
	all := make([]int, len(n.peers))
	for i := range all {
		all[i] = i
	}
	n.rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	both := func(a, b []int) []cut {
		var cuts []cut
		for _, x := range a {
			for _, y := range b {
				cuts = append(cuts, cut{x, y}, cut{y, x})
			}
		}
		return cuts
	}
	switch n.rng.IntN(3) {
	case 0:
		return "isolate", both(all[:1], all[1:]), fmt.Sprintf("isolate p%d from %s", all[0]+1, names(all[1:]))
	case 1:
		k := len(all) / 2
		return "split", both(all[:k], all[k:]), fmt.Sprintf("split minority %s | majority %s", names(all[:k]), names(all[k:]))
	}
	var cuts []cut
	for _, y := range all[1:] {
		cuts = append(cuts, cut{all[0], y})
	}
	return "one-way", cuts, fmt.Sprintf("one-way: p%d cannot send to %s (it still receives)", all[0]+1, names(all[1:]))
}

// skew picks a clock skew; beyond says whether it exceeds the drift limit
// (a clock that far behind refuses the others' stamps; one that far ahead
// has its stamps refused). Forward skews stay within Config.maxForward,
// below the tombstone grace: a clock that jumps ahead by more than the
// grace purges tombstones it has not spread yet, which is outside what
// grapevine promises.
func (n *nemesis) skew(late bool) (d time.Duration, beyond bool) {
	fwd := min(n.cfg.maxForward(), n.cfg.MaxSkew)
	x := n.rng.Float64()
	switch {
	case x < 0.4 || (x >= 0.7 && late) || fwd < time.Second:
		d := n.between(10*time.Second, n.cfg.MaxSkew)
		return -d, d > n.cfg.MaxDrift
	case x < 0.7 || fwd <= n.cfg.MaxDrift+5*time.Second:
		return n.between(min(5*time.Second, fwd/2), min(fwd, n.cfg.MaxDrift-5*time.Second)), false
	}
	return n.between(n.cfg.MaxDrift+5*time.Second, fwd), true
}

// skewWindow opens a window for a skew of peer about to be set.
func (n *nemesis) skewWindow(peer int, d time.Duration) *SkewWindow {
	return &SkewWindow{Peer: peer, Skew: d, From: n.hist.Since()}
}

// unskewed closes the open windows of peer (every peer if -1): its clock
// was just reset.
func (n *nemesis) unskewed(peer int) {
	now := n.hist.Since()
	for i := range n.skews {
		if w := &n.skews[i]; w.To == 0 && (peer < 0 || w.Peer == peer) {
			w.To = now
		}
	}
}

// round runs one round of faults and heals them.
func (n *nemesis) round(ctx context.Context, end time.Time) {
	t0 := time.Now()
	hold := n.between(n.cfg.HoldMin, n.cfg.HoldMax)
	f := n.cfg.Faults
	partitioned := false
	if f.Partitions {
		kind, cuts, desc := n.partition()
		if err := n.part.Apply(ctx, cuts); err != nil {
			n.log("partition failed: %v", err)
			n.hist.Event("partition-error", err.Error())
		} else {
			partitioned = true
			n.counts.Partitions++
			n.counts.PartitionKinds[kind]++
			n.log("%s", desc)
			n.hist.Event("partition", desc)
		}
	}
	skewed := -1
	if f.Skew && n.rng.Float64() < n.cfg.SkewProb {
		p := n.rng.IntN(len(n.peers))
		total := n.cfg.Duration
		late := time.Until(end) < total/4
		d, beyond := n.skew(late)
		win := n.skewWindow(p, d)
		err := n.c.Hook(ctx, n.peers[p].API(), "clock", url.Values{"skew": {d.String()}})
		// A failed request may still have set the skew: the window is open.
		n.skews = append(n.skews, *win)
		if err == nil {
			skewed = p
			n.counts.Skews++
			if beyond {
				n.counts.SkewsBeyond++
			}
			desc := fmt.Sprintf("skew p%d clock by %s", p+1, d)
			if beyond {
				desc += fmt.Sprintf(" (beyond the %s drift limit)", n.cfg.MaxDrift)
			}
			n.log("%s", desc)
			n.hist.Event("skew", desc, p)
		}
	}
	r := n.rng.Float64()
	victim := n.rng.IntN(len(n.peers))
	if victim == skewed {
		victim = (victim + 1) % len(n.peers)
	}
	if victim == n.awayNow() {
		victim = (victim + 1) % len(n.peers)
		if victim == skewed {
			victim = (victim + 1) % len(n.peers)
		}
	}
	switch {
	case f.Kills && (r < 0.6 || n.kills == 0): // every run has a kill, a power loss
		n.kill(ctx, victim)
	case f.Pauses && r < 0.85:
		n.pause(ctx, victim, n.between(2*time.Second, 6*time.Second))
	}
	sleep(ctx, time.Until(t0.Add(hold)))
	n.heal(ctx, partitioned, skewed)
}

// kill kills a peer, restarts it isolated after 1–5 s, reads back what it
// acknowledged, then lets it rejoin. One kill in three (the first, the
// fourth, ...) is a power loss: everything the peer did not fsync is
// dropped before the restart. A peer that does not come back is a
// durability failure.
func (n *nemesis) kill(ctx context.Context, i int) {
	d := n.peers[i]
	if !d.Running() {
		return
	}
	power := n.disks != nil && n.kills%3 == 0
	n.kills++
	killedAt := n.hist.Since()
	if err := d.Kill(); err != nil {
		n.log("kill p%d: %v", i+1, err)
		return
	}
	down := n.between(time.Second, 5*time.Second)
	what := "kill -9"
	if power {
		what = "power loss (kill -9, un-fsynced data dropped)"
	}
	n.log("%s p%d; restart in %s", what, i+1, down.Round(time.Millisecond))
	n.hist.Event("kill", what, i)
	chk := DurabilityCheck{Peer: i, PowerLoss: power}
	if power {
		loss, err := n.disks.powerLoss(i)
		if err != nil {
			n.log("power loss p%d: %v", i+1, err)
			chk.At, chk.Err = n.hist.Since(), fmt.Sprintf("power loss: %v", err)
			n.durable = append(n.durable, chk)
			return
		}
		chk.Lost = loss
		n.log("power loss p%d dropped %d files (%d bytes) and %d directory entries not fsynced", i+1, loss.Files, loss.Bytes, loss.Entries)
	}
	sleep(ctx, down)
	if err := n.restart(ctx, d, true); err != nil {
		if ctx.Err() == nil {
			chk.At, chk.Err = n.hist.Since(), fmt.Sprintf("did not come back after %s: %v", what, err)
			n.durable = append(n.durable, chk)
		}
		return
	}
	n.counts.Kills++
	if power {
		n.counts.PowerLosses++
	}
	read := durabilityCheck(ctx, n.c, d, n.hist, n.peerIDs, killedAt)
	read.PowerLoss, read.Lost = chk.PowerLoss, chk.Lost
	n.durable = append(n.durable, read)
	n.hist.Event("durability", fmt.Sprintf("read back %d acknowledged writes before sync, %d missing %s", read.Checked, len(read.Missing), read.Err), i)
	if len(read.Missing) > 0 || read.Err != "" {
		n.log("p%d durability: %d missing %v %s", i+1, len(read.Missing), read.Missing[:min(3, len(read.Missing))], read.Err)
	}
	n.rejoin(ctx, d)
}

// restart starts a stopped peer (isolated or not), retrying a few times;
// it returns the last error if every attempt failed.
func (n *nemesis) restart(ctx context.Context, d *Daemon, isolated bool) error {
	var err error
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		if err = d.Start(ctx, n.c, nil, isolated); err == nil {
			n.hist.Event("restart", fmt.Sprintf("isolated=%v", isolated), d.Index)
			return nil
		}
		n.counts.RestartFailures++
		n.log("restart %s failed: %v", d.Name(), err)
		n.hist.Event("restart-error", err.Error(), d.Index)
		_ = d.Kill()
		sleep(ctx, time.Second)
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// rejoin ends a restarted peer's isolation and dials its known peers.
func (n *nemesis) rejoin(ctx context.Context, d *Daemon) {
	if err := n.c.Hook(ctx, d.API(), "isolate", url.Values{"on": {"false"}}); err != nil {
		n.log("rejoin %s: %v", d.Name(), err)
	}
	go func() { _ = n.c.Hook(context.WithoutCancel(ctx), d.API(), "reconnect", nil) }()
}

func (n *nemesis) pause(ctx context.Context, i int, d time.Duration) {
	p := n.peers[i]
	if !p.Running() || p.Pause() != nil {
		return
	}
	n.counts.Pauses++
	n.log("SIGSTOP p%d for %s", i+1, d.Round(time.Millisecond))
	n.hist.Event("pause", "SIGSTOP", i)
	sleep(ctx, d)
	_ = p.Resume()
	n.hist.Event("resume", "SIGCONT", i)
}

// heal removes the round's partition and skew and redials.
func (n *nemesis) heal(ctx context.Context, partitioned bool, skewed int) {
	ctx = context.WithoutCancel(ctx)
	var what []string
	if partitioned {
		if err := n.part.Apply(ctx, nil); err != nil {
			n.log("heal failed: %v", err)
		}
		what = append(what, "partition")
	}
	if skewed >= 0 {
		if n.c.Hook(ctx, n.peers[skewed].API(), "clock", url.Values{"skew": {"0s"}}) == nil {
			n.unskewed(skewed)
		}
		what = append(what, fmt.Sprintf("p%d clock", skewed+1))
	}
	n.reconnectAll(ctx)
	if len(what) > 0 {
		n.log("heal %s", strings.Join(what, ", "))
		n.hist.Event("heal", strings.Join(what, ", "))
	}
}

// reconnectAll asks every running peer to dial its known peers now, so a
// healed partition is not left to the 30 s discovery interval.
func (n *nemesis) reconnectAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, d := range n.peers {
		if !d.Running() || d.Paused() {
			continue
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_ = n.c.Hook(rctx, d.API(), "reconnect", nil)
		})
	}
	wg.Wait()
}

// healAll ends every fault: resumes paused peers, restarts dead ones,
// removes partitions and skews, and redials.
func (n *nemesis) healAll(ctx context.Context) {
	for _, d := range n.peers {
		if d.Paused() {
			_ = d.Resume()
		}
		if !d.Running() && d.Started() {
			if n.restart(ctx, d, false) == nil {
				n.log("final heal: restarted %s", d.Name())
			}
		}
	}
	if err := n.part.Apply(ctx, nil); err != nil {
		n.log("final heal failed: %v", err)
	}
	unskewed := true
	for _, d := range n.peers {
		if d.Running() {
			unskewed = n.c.Hook(ctx, d.API(), "clock", url.Values{"skew": {"0s"}}) == nil && unskewed
			_ = n.c.Hook(ctx, d.API(), "isolate", url.Values{"on": {"false"}})
		}
	}
	if unskewed {
		n.unskewed(-1)
	}
	n.reconnectAll(ctx)
	n.hist.Event("heal-all", "every fault healed")
}

// partitionSummary formats the kinds of partition.
func (c FaultCounts) partitionSummary() string {
	kinds := make([]string, 0, len(c.PartitionKinds))
	for k := range c.PartitionKinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", c.PartitionKinds[k], k))
	}
	return strings.Join(parts, ", ")
}
