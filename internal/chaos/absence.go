package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"time"
)

// awayKeyPrefix names the keys of the long absence: put and replicated
// before a peer is killed, deleted while it is away, never written again.
// They are delete keys (deleteKeyPrefix), so the deletes checker covers them
// too.
const awayKeyPrefix = deleteKeyPrefix + "away/"

// awayProcess is the history's process number of the absence's operations.
const awayProcess = 9000

// AbsenceReport describes the long absence of a run.
type AbsenceReport struct {
	Peer     int           `json:"peer"`     // the peer held away; -1 if none was
	Away     time.Duration `json:"away_ns"`  // from the kill to the restart
	Grace    time.Duration `json:"grace_ns"` // the daemons' tombstone grace
	Held     int           `json:"held"`     // away keys the peer was seen holding before the kill
	Deleted  []string      `json:"deleted"`  // away keys whose delete was acknowledged while it was away
	Returned bool          `json:"returned"` // restarted before the end of the run
	Err      string        `json:"error,omitempty"`
}

// absence holds one peer away longer than the tombstone grace: it puts
// keys through another peer, waits until the victim holds them, kills it,
// deletes the keys, and restarts it once every tombstone of those deletes
// has been purged (1.25× the grace after the last delete, plus a purge
// interval and a margin of a quarter grace: a copy pulled from a peer that
// had not purged yet is purged again), so that only the rejoin rule keeps
// them deleted.
func (n *nemesis) absence(ctx context.Context, end time.Time) {
	rep := &n.away
	rep.Peer, rep.Grace = -1, n.cfg.TombstoneGrace
	sleep(ctx, min(time.Until(end), n.cfg.Duration/8))
	victim := rand.New(rand.NewPCG(n.cfg.Seed, 3000)).IntN(n.cfg.Peers) // n.rng belongs to run
	d := n.peers[victim]
	other := func() *Daemon { // a running, unpaused peer other than the victim
		for k := 1; k < len(n.peers); k++ {
			o := n.peers[(victim+k)%len(n.peers)]
			if o.Running() && !o.Paused() && o.API() != "" {
				return o
			}
		}
		return nil
	}
	var keys []string
	for i := range 12 {
		key := fmt.Sprintf("%s%d", awayKeyPrefix, i)
		o := other()
		if o == nil {
			break
		}
		op := n.hist.Invoke(Op{Process: awayProcess, F: FPut, Peer: o.Index, Key: key, Value: fmt.Sprintf("away/%d", i)})
		v, err := n.c.Put(opCtx(ctx), o.API(), key, op.Value)
		op.Type, op.Version = classify(err), v
		if err != nil {
			op.Error = err.Error()
		}
		n.hist.Complete(op)
		if op.Type == TypeOK {
			keys = append(keys, key)
		}
	}
	// Wait (up to 10 s) until the victim holds them, so that it is the
	// only one holding them live after the purge.
	deadline := time.Now().Add(10 * time.Second)
	held := map[string]bool{}
	for len(held) < len(keys) && time.Now().Before(deadline) && ctx.Err() == nil {
		for _, k := range keys {
			if held[k] || !d.Running() || d.Paused() {
				continue
			}
			if r, err := n.c.Get(ctx, d.API(), k); err == nil && !r.Absent {
				held[k] = true
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
	rep.Held = len(held)
	n.mu.Lock()
	n.mu.away = victim
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.mu.away = -1
		n.mu.Unlock()
	}()
	// A round's kill or pause of the victim, begun before, ends within seconds.
	for !(d.Running() && !d.Paused() && d.API() != "") && ctx.Err() == nil {
		sleep(ctx, 100*time.Millisecond)
	}
	if err := d.Kill(); err != nil {
		rep.Err = fmt.Sprintf("kill %s: %v", d.Name(), err)
		return
	}
	rep.Peer = victim
	killed := time.Now()
	n.log("long absence: kill -9 %s, holding %d of %d keys, for longer than the %s tombstone grace", d.Name(), len(held), len(keys), n.cfg.TombstoneGrace)
	n.hist.Event("absence", fmt.Sprintf("kill -9, away longer than the %s grace", n.cfg.TombstoneGrace), victim)
	for _, k := range keys {
		for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
			o := other()
			if o == nil {
				sleep(ctx, time.Second)
				continue
			}
			op := n.hist.Invoke(Op{Process: awayProcess, F: FDel, Peer: o.Index, Key: k})
			err := n.c.Delete(opCtx(ctx), o.API(), k)
			op.Type = classify(err)
			if err != nil {
				op.Error = err.Error()
			}
			n.hist.Complete(op)
			if op.Type == TypeOK {
				rep.Deleted = append(rep.Deleted, k)
			}
			if op.Type != TypeFail {
				break // ok, or info (may have happened: not checked, not retried)
			}
		}
	}
	back := time.Now().Add(n.cfg.TombstoneGrace*3/2 + n.cfg.TombstoneGrace/8 + 2*time.Second)
	sleep(ctx, min(time.Until(end), time.Until(back)))
	rep.Away = time.Since(killed)
	if time.Now().Before(back) {
		n.log("long absence: the run ends before %s was away long enough; restarted at the final heal", d.Name())
		return
	}
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		if err := d.Start(ctx, n.c, nil, false); err != nil {
			rep.Err = fmt.Sprintf("restart %s: %v", d.Name(), err)
			_ = d.Kill()
			sleep(ctx, time.Second)
			continue
		}
		rep.Returned, rep.Err = true, ""
		break
	}
	n.log("long absence: %s back after %s; %d keys deleted meanwhile", d.Name(), rep.Away.Round(time.Millisecond), len(rep.Deleted))
	n.hist.Event("absence-end", fmt.Sprintf("back after %s, %d keys deleted meanwhile", rep.Away, len(rep.Deleted)), victim)
	_ = n.c.Hook(context.WithoutCancel(ctx), d.API(), "reconnect", url.Values{})
}

// awayNow returns the peer held away, or -1.
func (n *nemesis) awayNow() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.away
}

// checkResurrection: every key deleted (acknowledged) while a peer was held
// away longer than the tombstone grace, and never written again, is absent
// on every peer at the end — the returning peer held it live, so only the
// rejoin rule keeps it from coming back. A run whose absent peer did not
// return checks nothing and says so.
func checkResurrection(in Input) Result {
	res := Result{Name: "resurrect", Valid: true}
	a := in.Absence
	if a == nil || a.Peer < 0 {
		res.Summary = "no long absence in this run"
		if a != nil && a.Err != "" {
			res.Summary += ": " + a.Err
		}
		return res
	}
	bad := map[string][]string{}
	came := 0
	for _, f := range in.live() {
		for _, k := range a.Deleted {
			if r, ok := f.Registers[k]; ok && !r.Absent {
				came++
				bad[k] = append(bad[k], fmt.Sprintf("p%d reads %q after its delete was acknowledged while p%d was away %s (grace %s)",
					f.Peer+1, r.Value, a.Peer+1, a.Away.Round(time.Second), a.Grace))
			}
		}
	}
	res.Valid = came == 0
	res.Summary = fmt.Sprintf("p%d away %s (grace %s, returned %v), held %d keys, %d deleted meanwhile checked on every peer, resurrected %d",
		a.Peer+1, a.Away.Round(time.Second), a.Grace, a.Returned, a.Held, len(a.Deleted), came)
	if !a.Returned {
		res.Summary += " (the peer came back only at the final heal)"
	}
	res.Offending = flatten(bad)
	return res
}
