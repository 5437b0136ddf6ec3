package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Report is the outcome of a run.
type Report struct {
	Config       Config
	Mechanism    string // how partitions were made, and why
	Elapsed      time.Duration
	Faults       FaultCounts
	Ops          map[string]map[string]int // function -> completion type -> count
	Results      []Result
	Valid        bool
	Converged    bool
	ConvergeTime time.Duration
	BadInput     BadInputStats
	Crashes      []string
	Notes        []string
	Setup        string // the security setup of the peers
	PowerLoss    string // how power losses were made, or why not
}

// subnet returns a per-process 127.a.b.0/24 so that concurrent runs (and
// their nftables rules) do not meet.
func subnet() string {
	pid := os.Getpid()
	return fmt.Sprintf("127.%d.%d.", 64+pid%128, 1+(pid/128)%250)
}

// Run performs one run: start the peers, run the workload, the nemesis and
// the rogue peer for cfg.Duration, heal, wait for convergence, read every
// peer, stop the peers and check. The report's Valid is the verdict; an
// error means the run itself could not be carried out.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = new(strings.Builder)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Log, format+"\n", args...) }
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	rep := &Report{Config: cfg, Ops: map[string]map[string]int{}}
	started := time.Now()
	net := subnet()

	// Partition mechanism.
	var part partitioner
	reason := "asked for"
	if cfg.Partition != "gater" {
		table := fmt.Sprintf("grapevine_chaos_%d", os.Getpid())
		err := probeNFT(ctx, table, net+"251")
		switch {
		case err == nil:
			ips := make([]string, cfg.Peers+cfg.Joiners)
			for i := range ips {
				ips[i] = fmt.Sprintf("%s%d", net, i+1)
			}
			part = &nftPartitioner{table: table, ips: ips}
		case cfg.Partition == "nft":
			return nil, fmt.Errorf("chaos: nftables unusable: %w", err)
		default:
			reason = "nftables unusable: " + err.Error()
		}
	}

	histFile, err := os.Create(filepath.Join(cfg.Dir, "history.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	defer histFile.Close()
	hist := NewHistory(histFile, started)
	c := NewClient(cfg.RequestTimeout)
	defer c.Close()

	crashes := make(chan string, 64)
	peers := make([]*Daemon, cfg.Peers+cfg.Joiners)
	var logs []*os.File
	defer func() {
		for _, f := range logs {
			_ = f.Close()
		}
	}()
	for i := range peers {
		lf, err := os.OpenFile(filepath.Join(cfg.Dir, fmt.Sprintf("p%d.log", i+1)), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
		logs = append(logs, lf)
		peers[i] = &Daemon{Index: i, IP: fmt.Sprintf("%s%d", net, i+1), Port: 4101,
			Data: filepath.Join(cfg.Dir, fmt.Sprintf("p%d", i+1)), bin: cfg.Bin, net: cfg.Network, logW: lf, crashes: crashes}
		_ = syscall.Unmount(peers[i].Data, syscall.MNT_DETACH) // a stale mount of a killed run
		_ = os.RemoveAll(peers[i].Data)
		_ = os.RemoveAll(peers[i].Data + ".disk")
	}
	// With power loss, a daemon's data directory is a mount over the
	// backing directory p<i>.disk, which holds what the daemon fsynced.
	// The harness writes the identities there, before the mount: set up
	// long before, they are durable.
	dataDirs := make([]string, len(peers))
	for i, d := range peers {
		dataDirs[i] = d.Data
		if cfg.Faults.PowerLoss {
			dataDirs[i] = d.Data + ".disk"
		}
	}
	tr, err := newTrust(ctx, cfg.Bin, cfg.Dir, dataDirs)
	if err != nil {
		return nil, err
	}
	var dk *disks
	if cfg.Faults.PowerLoss {
		mounts := make([]string, len(peers))
		for i, d := range peers {
			mounts[i] = d.Data
		}
		if dk, err = mountDisks(dataDirs, mounts); err != nil {
			return nil, err
		}
		rep.PowerLoss = fmt.Sprintf("every data directory on a power-loss filesystem (FUSE, %s<i>.disk mounted at %s<i>)", filepath.Join(cfg.Dir, "p"), filepath.Join(cfg.Dir, "p"))
	} else {
		rep.PowerLoss = "off: kill -9 only"
	}
	// Whatever ends the run (an error, ^C), no daemon outlives it and every
	// mount is unmounted; on the normal path both already happened.
	defer func() {
		for _, d := range peers {
			_ = d.Kill()
		}
		if dk != nil {
			if err := dk.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "grapevine chaos: unmounting the power-loss filesystems: %v\n", err)
			}
		}
	}()
	for i, d := range peers {
		d.args, d.wantID = append(tr.args(), "--tombstone-grace", cfg.TombstoneGrace.String(), "--max-value-size", fmt.Sprint(cfg.MaxValueSize)), tr.ids[i]
		if cfg.PullFirstWait > 0 {
			d.args = append(d.args, "--test-pull-first-wait", cfg.PullFirstWait.String())
		}
		d.args = append(d.args, cfg.DaemonFlags...)
	}
	if part == nil {
		part = &gaterPartitioner{c: c, peers: peers, reason: reason}
	}
	defer func() { _ = part.Close() }()
	rep.Mechanism = part.Name()
	logf("grapevine chaos: seed %d, %d peers (+%d joining halfway) on %s1..%d, %s of faults, partitions by %s", cfg.Seed, cfg.Peers, cfg.Joiners, net, len(peers), cfg.Duration, rep.Mechanism)
	rep.Setup = fmt.Sprintf("one swarm key (grapevine keygen swarm), allowlist of the %d peers and 2 rogue insiders, namespace %q written by %s", len(peers), signedNS, tr.writerNames())
	wait := "10m (daemon default)"
	if cfg.PullFirstWait > 0 {
		wait = cfg.PullFirstWait.String() + " (--test-pull-first-wait)"
	}
	rep.Setup += fmt.Sprintf("; --tombstone-grace %s, pull-first take-over after %s, --max-value-size %d (%.0f%% of register puts 1 MiB up to it); namespaces default, %s, %s",
		cfg.TombstoneGrace, wait, cfg.MaxValueSize, 100*cfg.BigValueProb, auxNS, signedNS)

	stopAll := func() {
		for _, d := range peers {
			if err := d.Stop(10 * time.Second); err != nil {
				rep.Notes = append(rep.Notes, err.Error())
			}
		}
	}
	// Start the peers: p1, then each with every earlier one as bootstrap.
	var boot []string
	for _, d := range peers[:cfg.Peers] {
		if err := d.Start(ctx, c, boot, false); err != nil {
			stopAll()
			return nil, err
		}
		boot = append(boot, d.Addr())
	}
	peerIDs := make([]string, len(peers))
	for i, d := range peers {
		peerIDs[i] = d.ID()
		if peerIDs[i] == "" {
			peerIDs[i] = d.wantID // a joiner: its pre-made identity
		}
	}
	waitMesh(ctx, c, peers[:cfg.Peers], 20*time.Second, logf)

	// The run.
	end := time.Now().Add(cfg.Duration)
	runCtx, stopRun := context.WithDeadline(ctx, end)
	defer stopRun()
	w := newWorkload(cfg, hist, c, peers)
	var wg sync.WaitGroup
	for i := range len(peers) * cfg.WorkersPerPeer {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1))
		wg.Go(func() { w.worker(runCtx, i, rng) })
	}
	nem := &nemesis{cfg: cfg, hist: hist, c: c, peers: peers, part: part, disks: dk, start: started, peerIDs: peerIDs,
		rng: rand.New(rand.NewPCG(cfg.Seed, 1000))}
	nem.mu.away = -1
	nem.away.Peer = -1
	wg.Go(func() { nem.run(ctx, end) })
	absent := make(chan struct{}) // closed when the long absence is over
	if cfg.Faults.Absence {
		wg.Go(func() { defer close(absent); nem.absence(ctx, end) })
	} else {
		close(absent)
	}
	wg.Go(func() { w.bigWrites(runCtx, started, rand.New(rand.NewPCG(cfg.Seed, 4000))) })
	joins := make([]JoinReport, cfg.Joiners)
	for k, d := range peers[cfg.Peers:] {
		joins[k].Peer = d.Index
		wg.Go(func() {
			// Halfway, and not while a peer is held away: a new peer's
			// bulk pull meanwhile may carry tombstones about to be purged
			// back to the peers that purged them, so the absence would no
			// longer test the rejoin rule.
			sleep(ctx, time.Until(started.Add(cfg.Duration/2)))
			select {
			case <-absent:
			case <-time.After(time.Until(end.Add(-cfg.Duration / 8))):
			case <-ctx.Done():
			}
			if join(ctx, c, hist, d, boot, started, logf) {
				joins[k].Joined, joins[k].At = true, time.Since(started)
			}
		})
	}
	var rg *rogue
	if cfg.Faults.BadInput {
		rg, err = newRogue(cfg, hist, c, peers, tr, net+"250", rand.New(rand.NewPCG(cfg.Seed, 2000)))
		if err != nil {
			rep.Notes = append(rep.Notes, err.Error())
		} else {
			defer rg.Close()
			wg.Go(func() { rg.run(runCtx) })
		}
	}
	progress := time.NewTicker(30 * time.Second)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-progress.C:
			ops := hist.Ops()
			logf("%7.1fs %d operations so far", time.Since(started).Seconds(), len(ops))
		}
	}
	progress.Stop()
	if ctx.Err() != nil {
		stopAll()
		return nil, ctx.Err()
	}

	// Heal, wait for convergence, read everything.
	logf("%7.1fs workload stopped; healing every fault", time.Since(started).Seconds())
	nem.healAll(ctx)
	healed := time.Now()
	ops := hist.Ops()
	deadline := healed.Add(cfg.Quiesce)
	var maxVer uint64
	for _, op := range ops {
		if op.Type == TypeOK {
			maxVer = max(maxVer, op.Version)
		}
	}
	if reach := time.UnixMilli(crdt.Timestamp(maxVer).Millis()).Add(-cfg.MaxDrift); reach.After(time.Now()) {
		ext := reach.Add(cfg.Quiesce / 2)
		if ext.After(deadline) {
			note := fmt.Sprintf("a forward-skewed peer stamped writes %s ahead; its peers accept them only %s from now, so the convergence deadline moves there",
				time.Until(time.UnixMilli(crdt.Timestamp(maxVer).Millis())).Round(time.Second), time.Until(reach).Round(time.Second))
			rep.Notes = append(rep.Notes, note)
			logf("%s", note)
			deadline = ext
		}
	}
	hotKeys, ctrKeys := w.hotKeys, append(slices.Clone(w.ctrKeys), badKeyPrefix+"ctr")
	var setKeys []string
	for i := range setCount {
		setKeys = append(setKeys, fmt.Sprintf("%s%d", setKeyPrefix, i))
	}
	for g := range txnGroups {
		ctrKeys = append(ctrKeys, txnGroup(g)+"n")
	}
	var final []FinalState
	var firstEqual time.Time
	for {
		final = readAll(ctx, c, peers, ctrKeys, setKeys)
		if equalDigests(final) {
			if !firstEqual.IsZero() {
				rep.Converged = true
				rep.ConvergeTime = firstEqual.Sub(healed)
				break
			}
			firstEqual = time.Now()
		} else {
			firstEqual = time.Time{}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			rep.ConvergeTime = time.Since(healed)
			break
		}
		sleep(ctx, 500*time.Millisecond)
	}
	readBig(ctx, c, peers, ops, final, time.Now().Add(cfg.Quiesce/2))
	logf("%7.1fs converged=%v after %s; stopping peers", time.Since(started).Seconds(), rep.Converged, rep.ConvergeTime.Round(time.Millisecond))
	hist.Event("final", fmt.Sprintf("converged=%v in %s", rep.Converged, rep.ConvergeTime))
	stopAll()
	if dk != nil {
		if err := dk.Close(); err != nil {
			rep.Notes = append(rep.Notes, "unmounting the power-loss filesystems: "+err.Error())
		}
	}
	close(crashes)
	for cr := range crashes {
		rep.Crashes = append(rep.Crashes, cr)
	}

	// Registers absent from a peer's listing are absent there.
	// Conditional-write keys join the registers checkLWW judges.
	seenKey := map[string]bool{}
	for _, op := range ops {
		if isCASKey(op.Key) && !seenKey[op.Key] {
			seenKey[op.Key] = true
			hotKeys = append(hotKeys, op.Key)
		}
	}
	keys := slices.Clone(hotKeys)
	for _, op := range ops {
		if strings.HasPrefix(op.Key, deleteKeyPrefix) || strings.HasPrefix(op.Key, ttlKeyPrefix) {
			keys = append(keys, op.Key)
		}
	}
	for g := range txnGroups {
		keys = append(keys, txnGroup(g)+"a", txnGroup(g)+"b")
	}
	for i := range final {
		if !final[i].Live {
			continue
		}
		for _, k := range keys {
			if _, ok := final[i].Registers[k]; !ok {
				final[i].Registers[k] = Reg{Absent: true}
			}
		}
	}
	if rg != nil {
		rep.BadInput = rg.Stats()
	}
	forged := map[string]bool{} // forged states (keys) stored by any peer
	for _, f := range final {
		for k := range f.Registers {
			ns, key := splitQualified(k)
			if strings.HasPrefix(key, badKeyPrefix) && !f.Registers[k].Absent {
				rep.BadInput.AcceptedKeys = append(rep.BadInput.AcceptedKeys, fmt.Sprintf("p%d has %q", f.Peer+1, k))
				if ns == signedNS {
					forged[k] = true
				}
			}
		}
		if v := f.Counters[badKeyPrefix+"ctr"]; v != 0 {
			rep.BadInput.AcceptedKeys = append(rep.BadInput.AcceptedKeys, fmt.Sprintf("p%d counter %q = %d", f.Peer+1, badKeyPrefix+"ctr", v))
		}
	}
	rep.BadInput.Trust.ForgedAccepted = len(forged)
	rep.Faults = nem.counts
	for _, op := range ops {
		if rep.Ops[op.F] == nil {
			rep.Ops[op.F] = map[string]int{}
		}
		rep.Ops[op.F][op.Type]++
	}
	rep.Results = Check(Input{
		Ops: ops, PeerIDs: peerIDs, HotKeys: hotKeys, CounterKeys: w.ctrKeys, Final: final,
		Converged: rep.Converged, ConvergeTime: rep.ConvergeTime, Durability: nem.durable, Writers: tr.writers,
		BadInput: rep.BadInput, Crashes: rep.Crashes, Absence: &nem.away, Joins: joins,
		SetKeys: setKeys, Skews: nem.skews, Start: started,
	})
	rep.Valid = true
	for _, r := range rep.Results {
		rep.Valid = rep.Valid && r.Valid
	}
	rep.Elapsed = time.Since(started)
	if err := hist.Flush(); err != nil {
		rep.Notes = append(rep.Notes, "writing the history: "+err.Error())
	}
	if b, err := json.MarshalIndent(final, "", " "); err == nil {
		_ = os.WriteFile(filepath.Join(cfg.Dir, "final.json"), b, 0o644)
	}
	_ = os.WriteFile(filepath.Join(cfg.Dir, "summary.txt"), []byte(rep.Summary()), 0o644)
	return rep, nil
}

// bigSize returns the size of a large value as the history records it
// ("text|x<n>"), or 0 for another value.
func bigSize(v string) int {
	i := strings.LastIndex(v, bigSep+"x")
	if i < 0 {
		return 0
	}
	pad, err := strconv.Atoi(v[i+len(bigSep)+1:])
	if err != nil {
		return 0
	}
	return i + len(bigSep) + pad
}

// join starts a new peer, bootstrapping from every first peer, as a new
// member of the network does mid-run.
func join(ctx context.Context, c *Client, hist *History, d *Daemon, boot []string, started time.Time, logf func(string, ...any)) bool {
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		err := d.Start(ctx, c, boot, false)
		if err == nil {
			logf("%7.1fs join: %s started, bootstrapping from %d peers", time.Since(started).Seconds(), d.Name(), len(boot))
			hist.Event("join", fmt.Sprintf("new peer, bootstrapping from %d peers", len(boot)), d.Index)
			return true
		}
		logf("%7.1fs join: %s: %v", time.Since(started).Seconds(), d.Name(), err)
		hist.Event("join-error", err.Error(), d.Index)
		_ = d.Kill()
		sleep(ctx, time.Second)
	}
	return false
}

// waitMesh waits until every peer sees every other, or the timeout.
func waitMesh(ctx context.Context, c *Client, peers []*Daemon, timeout time.Duration, logf func(string, ...any)) {
	deadline := time.Now().Add(timeout)
	for {
		least := len(peers)
		for _, d := range peers {
			st, err := c.Status(ctx, d.API())
			if err != nil {
				least = 0
				continue
			}
			least = min(least, st.Peers)
		}
		if least >= len(peers)-1 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			logf("peers not fully meshed after %s (least connected peer sees %d of %d); going on", timeout, least, len(peers)-1)
			return
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// readAll reads every peer's registers (one listing) and counters, and a
// digest of both.
func readAll(ctx context.Context, c *Client, peers []*Daemon, counters, sets []string) []FinalState {
	out := make([]FinalState, len(peers))
	var wg sync.WaitGroup
	for i, d := range peers {
		wg.Go(func() { out[i] = readPeer(ctx, c, d, counters, sets) })
	}
	wg.Wait()
	return out
}

func readPeer(ctx context.Context, c *Client, d *Daemon, counters, sets []string) FinalState {
	f := FinalState{Peer: d.Index, Registers: map[string]Reg{}, Counters: map[string]int64{}, Sets: map[string][]string{}, At: time.Now().UnixMilli()}
	if !d.Running() {
		f.Err = "not running"
		return f
	}
	entries, err := c.List(ctx, d.API(), "")
	if err != nil {
		f.Err = err.Error()
		return f
	}
	signed, err := c.ListNS(ctx, d.API(), signedNS, "")
	if err != nil {
		f.Err = err.Error()
		return f
	}
	for i := range signed {
		signed[i].Key = qualified(signedNS, signed[i].Key)
	}
	entries = append(entries, signed...)
	aux, err := c.ListNS(ctx, d.API(), auxNS, "")
	if err != nil {
		f.Err = err.Error()
		return f
	}
	for i := range aux {
		aux[i].Key = qualified(auxNS, aux[i].Key)
	}
	entries = append(entries, aux...)
	h := sha256.New()
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	for _, e := range entries {
		v := normValue(string(e.Value))
		f.Registers[e.Key] = Reg{Value: v, Version: e.Version}
		fmt.Fprintf(h, "r %q %q %d\n", e.Key, v, e.Version)
	}
	for _, k := range counters {
		v, err := c.Counter(ctx, d.API(), k)
		if err != nil {
			f.Err = err.Error()
			return f
		}
		f.Counters[k] = v
		fmt.Fprintf(h, "c %q %d\n", k, v)
	}
	for _, k := range sets {
		ms, err := c.SetMembers(ctx, d.API(), k)
		if err != nil {
			f.Err = err.Error()
			return f
		}
		f.Sets[k] = ms
		fmt.Fprintf(h, "s %q %q\n", k, ms)
	}
	f.Live, f.Digest, f.Done = true, hex.EncodeToString(h.Sum(nil)), time.Now().UnixMilli()
	return f
}

func equalDigests(fs []FinalState) bool {
	for _, f := range fs {
		if !f.Live || f.Digest != fs[0].Digest {
			return false
		}
	}
	return len(fs) > 0
}

// Summary formats the report the way Jepsen does.
func (r *Report) Summary() string {
	var b strings.Builder
	cfg := r.Config
	fmt.Fprintf(&b, "grapevine chaos — seed %d, %s of faults (%s in all), %d peers", cfg.Seed, cfg.Duration, r.Elapsed.Round(time.Second), cfg.Peers)
	if cfg.Joiners > 0 {
		fmt.Fprintf(&b, " + %d joining halfway (after the long absence)", cfg.Joiners)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "partitions by: %s\n", r.Mechanism)
	if r.PowerLoss != "" {
		fmt.Fprintf(&b, "power loss: %s\n", r.PowerLoss)
	}
	if r.Setup != "" {
		fmt.Fprintf(&b, "peers: %s\n", r.Setup)
	}
	f := r.Faults
	fmt.Fprintf(&b, "faults: %d partitions healed (%s), %d kill -9 restarts (%d of them power losses; %d failed restarts), %d pauses, %d clock skews (%d beyond the max drift)\n",
		f.Partitions, f.partitionSummary(), f.Kills, f.PowerLosses, f.RestartFailures, f.Pauses, f.Skews, f.SkewsBeyond)
	total := map[string]int{}
	fns := make([]string, 0, len(r.Ops))
	for fn, m := range r.Ops {
		fns = append(fns, fn)
		for t, n := range m {
			total[t] += n
		}
	}
	sort.Strings(fns)
	fmt.Fprintf(&b, "operations: %d ok, %d fail, %d info (", total[TypeOK], total[TypeFail], total[TypeInfo])
	for i, fn := range fns {
		if i > 0 {
			b.WriteString("; ")
		}
		m := r.Ops[fn]
		fmt.Fprintf(&b, "%s %d/%d/%d", fn, m[TypeOK], m[TypeFail], m[TypeInfo])
	}
	b.WriteString(")\n")
	for _, res := range r.Results {
		verdict := "VALID"
		if !res.Valid {
			verdict = "INVALID"
		}
		fmt.Fprintf(&b, "  %-12s %-8s %s\n", res.Name, verdict, res.Summary)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if r.Valid {
		b.WriteString("RESULT: VALID\n")
		return b.String()
	}
	b.WriteString("offending:\n")
	for _, res := range r.Results {
		if res.Valid {
			continue
		}
		for i, o := range res.Offending {
			if i == 20 {
				fmt.Fprintf(&b, "  %s: … %d more (see history.jsonl)\n", res.Name, len(res.Offending)-20)
				break
			}
			fmt.Fprintf(&b, "  %s: %s\n", res.Name, o)
		}
	}
	b.WriteString("RESULT: INVALID\n")
	return b.String()
}
