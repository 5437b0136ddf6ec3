package chaos

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/internal/powerfs"
)

// Reg is one register as read from a peer.
type Reg struct {
	Value   string `json:"value,omitempty"`
	Version uint64 `json:"version,omitempty"`
	Absent  bool   `json:"absent,omitempty"`
}

// FinalState is what the harness read from one peer after the final heal.
type FinalState struct {
	Peer      int                 `json:"peer"`
	Live      bool                `json:"live"`
	Err       string              `json:"error,omitempty"`
	Registers map[string]Reg      `json:"registers"`
	Counters  map[string]int64    `json:"counters"`
	Sets      map[string][]string `json:"sets"` // members, ascending
	Digest    string              `json:"digest"`
	// At and Done bound the read, in Unix milliseconds of the wall clock.
	At   int64 `json:"at_ms"`
	Done int64 `json:"done_ms"`
}

// DurabilityCheck is the read-back of one peer restarted after kill -9,
// before it could sync with anyone.
// Err is set when the peer could not be read back, or did not come back
// at all. PowerLoss marks a restart after a power loss, which dropped Lost.
type DurabilityCheck struct {
	Peer      int           `json:"peer"`
	At        time.Duration `json:"at_ns"`
	Checked   int           `json:"checked"`
	Missing   []string      `json:"missing,omitempty"`
	Err       string        `json:"error,omitempty"`
	PowerLoss bool          `json:"power_loss,omitempty"`
	Lost      powerfs.Loss  `json:"lost"`
}

// BadInputStats counts the bad-input workload.
type BadInputStats struct {
	GossipSent      int        `json:"gossip_sent"`
	GossipRejected  int        `json:"gossip_rejected"` // rejections counted by the peers' validators
	SyncSent        int        `json:"sync_sent"`
	SyncRejected    int        `json:"sync_rejected"` // streams the peer closed, reset or answered with an error
	SyncHung        int        `json:"sync_hung"`     // streams neither closed nor answered in time
	APISent         int        `json:"api_sent"`
	APIRejected     int        `json:"api_rejected"`      // 4xx
	APIAccepted     int        `json:"api_accepted"`      // 2xx: must be 0
	APIServerErrors int        `json:"api_server_errors"` // 5xx: must be 0 (bad input deserves a clear error)
	APIUnreachable  int        `json:"api_unreachable"`   // the peer was down (killed or paused)
	AcceptedKeys    []string   `json:"accepted_keys,omitempty"`
	Trust           TrustStats `json:"trust"`
}

// Probe counts one kind of connection attempt that must be refused.
type Probe struct {
	Sent     int `json:"sent"`
	Refused  int `json:"refused"`  // the dial or handshake failed, or the peer closed the connection
	Accepted int `json:"accepted"` // the connection stood: must be 0
}

// String returns "refused/sent".
func (p Probe) String() string { return fmt.Sprintf("%d/%d", p.Refused, p.Sent) }

// TrustStats counts the rogue's attempts on the security setup.
type TrustStats struct {
	// WrongNetwork: an insider (swarm key, allowlisted) speaking another
	// network's protocols; NoKey and WrongKey: hosts without the swarm key
	// or with another; NotAllowlisted: a host with the swarm key and an ID
	// not on the allowlist.
	WrongNetwork, NoKey, WrongKey, NotAllowlisted Probe
	// AllowlistRefusals is the growth of the peers'
	// grapevine_peer_refusals_total{reason="allowlist"}.
	AllowlistRefusals int `json:"allowlist_refusals"`
	// ForgedGossip and ForgedSync count forged or unauthorised states in
	// signedNS sent by gossip and by anti-entropy, each under its own
	// key; ForgedAccepted is the number of those keys some peer stored.
	ForgedGossip   int `json:"forged_gossip"`
	ForgedSync     int `json:"forged_sync"`
	ForgedAccepted int `json:"forged_accepted"`
	// RefusedStates is the growth of the peers'
	// grapevine_refused_states_total by reason.
	RefusedStates map[string]int `json:"refused_states,omitempty"`
}

// Accepted is the number of attempts that got through.
func (t TrustStats) Accepted() int {
	return t.WrongNetwork.Accepted + t.NoKey.Accepted + t.WrongKey.Accepted + t.NotAllowlisted.Accepted + t.ForgedAccepted
}

// Summary is the trust part of the bad-input line.
func (t TrustStats) Summary() string {
	forged := t.ForgedGossip + t.ForgedSync
	refused := 0
	var reasons []string
	for _, r := range slices.Sorted(maps.Keys(t.RefusedStates)) {
		refused += t.RefusedStates[r]
		reasons = append(reasons, fmt.Sprintf("%s %d", r, t.RefusedStates[r]))
	}
	return fmt.Sprintf("trust: wrong-network %s, no-key %s, wrong-key %s, not-allowlisted %s (peers counted %d allowlist refusals), forged %d/%d refused (gossip %d, anti-entropy %d; peers counted %d refused states: %s), accepted %d",
		t.WrongNetwork, t.NoKey, t.WrongKey, t.NotAllowlisted, t.AllowlistRefusals,
		forged-t.ForgedAccepted, forged, t.ForgedGossip, t.ForgedSync, refused, strings.Join(reasons, ", "), t.Accepted())
}

// Accepted is the number of bad inputs that changed state or got through.
func (b BadInputStats) Accepted() int {
	return b.APIAccepted + len(b.AcceptedKeys) + b.Trust.Accepted() - b.Trust.ForgedAccepted // forged keys are in AcceptedKeys
}

// Input is everything the checkers judge.
type Input struct {
	Ops          []Op
	PeerIDs      []string // libp2p peer ID of each peer index: the register origin
	HotKeys      []string // LWW register keys
	CounterKeys  []string
	Final        []FinalState
	Converged    bool
	ConvergeTime time.Duration
	Durability   []DurabilityCheck
	BadInput     BadInputStats
	Crashes      []string       // peers that exited without being told to
	Absence      *AbsenceReport // the long absence (nil: none)
	Joins        []JoinReport   // the new peers started mid-run
	Writers      []bool         // by peer index: on signedNS's writer list
	SetKeys      []string       // add-wins sets
	Skews        []SkewWindow   // the clock skews the nemesis applied
	Start        time.Time      // the wall-clock time of the history's start
}

// Result is one checker's verdict.
type Result struct {
	Name      string
	Valid     bool
	Summary   string   // counts, one line
	Offending []string // keys and what is wrong with them
}

// Check runs every checker.
func Check(in Input) []Result {
	return []Result{checkLWW(in), checkCounters(in), checkDeletes(in), checkConvergence(in), checkDurability(in), checkWriters(in), checkBadInput(in), checkResurrection(in), checkBigValues(in), checkJoiners(in), checkCAS(in), checkTTL(in), checkSets(in), checkTxn(in)}
}

// stamp is a register's order key: (HLC, origin).
type stamp struct {
	ver    uint64
	origin string
}

func (a stamp) cmp(b stamp) int {
	if c := cmp.Compare(a.ver, b.ver); c != 0 {
		return c
	}
	return strings.Compare(a.origin, b.origin)
}

func (a stamp) String() string { return fmt.Sprintf("%d@%s", a.ver, shortID(a.origin)) }

func shortID(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-6:]
	}
	return id
}

func (in Input) origin(peer int) string {
	if peer >= 0 && peer < len(in.PeerIDs) {
		return in.PeerIDs[peer]
	}
	return fmt.Sprintf("peer%d", peer)
}

func (in Input) live() []FinalState {
	var out []FinalState
	for _, f := range in.Final {
		if f.Live {
			out = append(out, f)
		}
	}
	return out
}

// puts indexes every put by its (unique) value.
func (in Input) puts() map[string]Op {
	m := make(map[string]Op)
	for _, op := range in.Ops {
		if op.F == FPut {
			m[op.Key+"\x00"+op.Value] = op
		}
	}
	return m
}

// checkLWW: the converged value of each register is the write with the
// greatest (HLC, origin) among ok and info writes; every ok write is that
// write or ordered below it (else it is lost); no value appears that no one
// wrote or whose write failed; and a peer never stamps a write at or below a
// version it had already acknowledged or served for that key (the HLC
// promise that makes a later write win — wall-clock LWW breaks it).
func checkLWW(in Input) Result {
	res := Result{Name: "lww", Valid: true}
	puts := in.puts()
	hot := make(map[string]bool)
	for _, k := range in.HotKeys {
		hot[k] = true
	}
	var lost, phantom, mismatch, stale, okWrites int
	bad := map[string][]string{}
	add := func(key, msg string) {
		if len(bad[key]) < 3 {
			bad[key] = append(bad[key], msg)
		}
	}
	okByKey := map[string][]Op{}
	lostSet := map[int64]bool{} // op IDs counted as lost (on any peer)
	for _, op := range in.Ops {
		if op.F == FPut && op.Type == TypeOK && hot[op.Key] {
			okByKey[op.Key] = append(okByKey[op.Key], op)
			okWrites++
		}
	}
	for _, key := range in.HotKeys {
		for _, f := range in.live() {
			r, ok := f.Registers[key]
			if !ok {
				continue // unreadable: convergence reports it
			}
			var final stamp
			if r.Absent {
				final = stamp{}
			} else {
				w, known := puts[key+"\x00"+r.Value]
				if !known || w.Type == TypeFail {
					phantom++
					add(key, fmt.Sprintf("p%d reads %q, which no ok or info write wrote", f.Peer+1, r.Value))
					continue
				}
				if w.Type == TypeOK && w.Version != r.Version {
					mismatch++
					add(key, fmt.Sprintf("p%d reads %q at version %d, acknowledged as %d", f.Peer+1, r.Value, r.Version, w.Version))
				}
				final = stamp{r.Version, in.origin(w.Peer)}
			}
			for _, w := range okByKey[key] {
				s := stamp{w.Version, in.origin(w.Peer)}
				if s.cmp(final) > 0 && !lostSet[w.ID] {
					lostSet[w.ID] = true
					lost++
					add(key, fmt.Sprintf("acknowledged write %q %s lost to %s on p%d", w.Value, s, final, f.Peer+1))
				}
			}
		}
	}
	// Stale stamps, per peer and key: events ordered by completion, puts by
	// invocation; a put must be stamped above everything its peer had
	// acknowledged or served for the key before the put was invoked.
	type ev struct {
		at time.Duration
		s  stamp
		op Op
	}
	type pk struct {
		peer int
		key  string
	}
	seen := map[pk][]ev{}
	wrote := map[pk][]ev{}
	for _, op := range in.Ops {
		if op.Type != TypeOK || !hot[op.Key] {
			continue
		}
		k := pk{op.Peer, op.Key}
		switch op.F {
		case FPut:
			s := stamp{op.Version, in.origin(op.Peer)}
			seen[k] = append(seen[k], ev{op.Complete, s, op})
			wrote[k] = append(wrote[k], ev{op.Invoke, s, op})
		case FGet:
			if op.Absent {
				continue
			}
			origin := ""
			if w, ok := puts[op.Key+"\x00"+op.Value]; ok {
				origin = in.origin(w.Peer)
			}
			seen[k] = append(seen[k], ev{op.Complete, stamp{op.Version, origin}, op})
		}
	}
	for k, ws := range wrote {
		es := seen[k]
		slices.SortFunc(es, func(a, b ev) int { return cmp.Compare(a.at, b.at) })
		slices.SortFunc(ws, func(a, b ev) int { return cmp.Compare(a.at, b.at) })
		var best ev
		have := false
		i := 0
		for _, w := range ws {
			for i < len(es) && es[i].at < w.at {
				if !have || es[i].s.cmp(best.s) > 0 {
					best, have = es[i], true
				}
				i++
			}
			if have && w.s.cmp(best.s) <= 0 {
				stale++
				add(k.key, fmt.Sprintf("p%d stamped write %q %s at or below %q %s it had already %s",
					k.peer+1, w.op.Value, w.s, best.op.Value, best.s, map[string]string{FPut: "acknowledged", FGet: "served"}[best.op.F]))
			}
		}
	}
	res.Valid = lost+phantom+mismatch+stale == 0
	res.Summary = fmt.Sprintf("keys %d, ok writes %d, lost %d, stale stamps %d, phantom %d, version mismatches %d",
		len(in.HotKeys), okWrites, lost, stale, phantom, mismatch)
	res.Offending = flatten(bad)
	return res
}

func flatten(bad map[string][]string) []string {
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		for _, m := range bad[k] {
			out = append(out, k+": "+m)
		}
	}
	return out
}

// reachable returns the set of sums of subsets of ds as a sorted slice when
// small enough, else nil and the interval [lo, hi] only.
func reachable(ds []int64) (set map[int64]bool, lo, hi int64) {
	for _, d := range ds {
		if d < 0 {
			lo += d
		} else {
			hi += d
		}
	}
	if hi-lo > 1<<20 || len(ds) > 5000 {
		return nil, lo, hi
	}
	set = map[int64]bool{0: true}
	for _, d := range ds {
		next := make(map[int64]bool, 2*len(set))
		for s := range set {
			next[s] = true
			next[s+d] = true
		}
		set = next
	}
	return set, lo, hi
}

// checkCounters: the Maelstrom pn-counter rule. Every final read lies in
// {sum of ok deltas + the sum of any subset of info deltas}, and all peers
// read the same value. Below that: lost increments; above: duplicated.
func checkCounters(in Input) Result {
	res := Result{Name: "counters", Valid: true}
	var lost, dup, impossible, divergent, okOps, infoOps int
	bad := map[string][]string{}
	for _, key := range in.CounterKeys {
		var okSum int64
		var info []int64
		for _, op := range in.Ops {
			if op.F != FIncr || op.Key != key {
				continue
			}
			switch op.Type {
			case TypeOK:
				okSum += op.Delta
				okOps++
			case TypeInfo:
				info = append(info, op.Delta)
				infoOps++
			}
		}
		set, lo, hi := reachable(info)
		vals := map[int64]bool{}
		for _, f := range in.live() {
			v, ok := f.Counters[key]
			if !ok {
				continue
			}
			vals[v] = true
			switch {
			case v < okSum+lo:
				lost++
				bad[key] = append(bad[key], fmt.Sprintf("p%d reads %d, below the least possible %d (increments lost)", f.Peer+1, v, okSum+lo))
			case v > okSum+hi:
				dup++
				bad[key] = append(bad[key], fmt.Sprintf("p%d reads %d, above the greatest possible %d (increments counted twice)", f.Peer+1, v, okSum+hi))
			case set != nil && !set[v-okSum]:
				impossible++
				bad[key] = append(bad[key], fmt.Sprintf("p%d reads %d, no subset of the %d indeterminate increments gives it", f.Peer+1, v, len(info)))
			}
		}
		if len(vals) > 1 {
			divergent++
			bad[key] = append(bad[key], fmt.Sprintf("peers read %d different values", len(vals)))
		}
	}
	res.Valid = lost+dup+impossible+divergent == 0
	res.Summary = fmt.Sprintf("keys %d, ok increments %d, info %d, lost %d, duplicated %d, impossible %d, divergent %d",
		len(in.CounterKeys), okOps, infoOps, lost, dup, impossible, divergent)
	res.Offending = flatten(bad)
	return res
}

// checkDeletes: a key whose delete was acknowledged (and that nobody writes
// afterwards, by construction of the workload) is absent on every peer at the
// end, and never read back on the peer that acknowledged the delete.
func checkDeletes(in Input) Result {
	res := Result{Name: "deletes", Valid: true}
	deleted := map[string]Op{} // key -> ok delete
	for _, op := range in.Ops {
		if op.F == FDel && op.Type == TypeOK {
			deleted[op.Key] = op
		}
	}
	puts := in.puts()
	var resurrected, phantom int
	bad := map[string][]string{}
	for _, op := range in.Ops {
		d, ok := deleted[op.Key]
		if !ok || op.F != FGet || op.Type != TypeOK || op.Absent || op.Peer != d.Peer || op.Invoke <= d.Complete {
			continue
		}
		resurrected++
		bad[op.Key] = append(bad[op.Key], fmt.Sprintf("p%d served %q after acknowledging its delete", op.Peer+1, op.Value))
	}
	for _, f := range in.live() {
		for key, r := range f.Registers {
			if r.Absent || !strings.HasPrefix(key, deleteKeyPrefix) {
				continue
			}
			if w, ok := puts[key+"\x00"+r.Value]; !ok || w.Type == TypeFail {
				phantom++
				bad[key] = append(bad[key], fmt.Sprintf("p%d reads %q, which no ok or info write wrote", f.Peer+1, r.Value))
			}
			if _, ok := deleted[key]; ok {
				resurrected++
				bad[key] = append(bad[key], fmt.Sprintf("p%d reads %q after the delete was acknowledged", f.Peer+1, r.Value))
			}
		}
	}
	res.Valid = resurrected+phantom == 0
	res.Summary = fmt.Sprintf("deleted keys %d, resurrected %d, phantom %d", len(deleted), resurrected, phantom)
	res.Offending = flatten(bad)
	return res
}

// checkConvergence: every live peer holds identical state.
func checkConvergence(in Input) Result {
	res := Result{Name: "convergence", Valid: true}
	live := in.live()
	digests := map[string]bool{}
	for _, f := range live {
		digests[f.Digest] = true
		if f.Err != "" {
			res.Offending = append(res.Offending, fmt.Sprintf("p%d: %s", f.Peer+1, f.Err))
		}
	}
	bad := map[string][]string{}
	if len(live) > 0 {
		keys := map[string]bool{}
		for _, f := range live {
			for k := range f.Registers {
				keys[k] = true
			}
		}
		for k := range keys {
			vals := map[Reg]bool{}
			for _, f := range live {
				vals[f.Registers[k]] = true
			}
			if len(vals) > 1 {
				var parts []string
				for _, f := range live {
					r := f.Registers[k]
					if r.Absent {
						parts = append(parts, fmt.Sprintf("p%d absent", f.Peer+1))
					} else {
						parts = append(parts, fmt.Sprintf("p%d %q@%d", f.Peer+1, r.Value, r.Version))
					}
				}
				bad[k] = []string{strings.Join(parts, ", ")}
			}
		}
	}
	res.Offending = append(res.Offending, flatten(bad)...)
	res.Valid = in.Converged && len(digests) == 1 && len(live) == len(in.Final) && len(res.Offending) == 0
	digest := "-"
	for d := range digests {
		digest = d
	}
	if len(digests) == 1 {
		res.Summary = fmt.Sprintf("%d/%d peers identical (digest %.12s), converged %s after the final heal",
			len(live), len(in.Final), digest, in.ConvergeTime.Round(time.Millisecond))
	} else {
		res.Summary = fmt.Sprintf("%d/%d peers live, %d different states, %d keys differ, not converged %s after the final heal",
			len(live), len(in.Final), len(digests), len(bad), in.ConvergeTime.Round(time.Millisecond))
	}
	if !in.Converged && len(digests) == 1 {
		res.Summary += " (but not within the deadline)"
	}
	return res
}

// checkDurability: every write a peer acknowledged before kill -9 or a
// power loss is there when it restarts, before it syncs; and it restarts
// (the database reopens).
func checkDurability(in Input) Result {
	res := Result{Name: "durability", Valid: true}
	var checked, missing, errs, power int
	var lost powerfs.Loss
	for _, d := range in.Durability {
		what := "restarted"
		if d.PowerLoss {
			what = "restarted after a power loss"
			power++
			lost.Files += d.Lost.Files
			lost.Bytes += d.Lost.Bytes
			lost.Entries += d.Lost.Entries
		}
		checked += d.Checked
		missing += len(d.Missing)
		for _, m := range d.Missing {
			res.Offending = append(res.Offending, fmt.Sprintf("p%d %s at %s: %s", d.Peer+1, what, d.At.Round(time.Millisecond), m))
		}
		if d.Err != "" {
			errs++
			res.Offending = append(res.Offending, fmt.Sprintf("p%d %s at %s: %s", d.Peer+1, what, d.At.Round(time.Millisecond), d.Err))
		}
	}
	res.Valid = missing+errs == 0
	res.Summary = fmt.Sprintf("%d restarts (%d power losses, dropping %d un-fsynced files, %d bytes, %d directory entries), %d acknowledged writes read back before sync, missing %d, unreadable or not restarted %d",
		len(in.Durability), power, lost.Files, lost.Bytes, lost.Entries, checked, missing, errs)
	return res
}

// checkWriters: puts in signedNS through a peer on its writer list are
// never refused as forbidden; through any other peer they are refused with
// 403 forbidden (a 2xx is a violation; so is another 4xx).
func checkWriters(in Input) Result {
	res := Result{Name: "writers", Valid: true}
	var w, nw map[string]int = map[string]int{}, map[string]int{}
	bad := map[string][]string{}
	add := func(key, msg string) {
		if len(bad[key]) < 3 {
			bad[key] = append(bad[key], msg)
		}
	}
	for _, op := range in.Ops {
		if ns, _ := splitQualified(op.Key); op.F != FPut || ns != signedNS {
			continue
		}
		writer := op.Peer < len(in.Writers) && in.Writers[op.Peer]
		switch {
		case writer && op.Code == "forbidden":
			w["forbidden"]++
			add(op.Key, fmt.Sprintf("writer p%d refused %q as forbidden: %s", op.Peer+1, op.Value, op.Error))
		case writer:
			w[op.Type]++
		case op.Type == TypeOK:
			nw["accepted"]++
			add(op.Key, fmt.Sprintf("non-writer p%d accepted %q (version %d)", op.Peer+1, op.Value, op.Version))
		case op.Code == "forbidden":
			nw["forbidden"]++
		case op.Type == TypeFail && op.Code != "" && op.Code != "unavailable":
			nw["other"]++
			add(op.Key, fmt.Sprintf("non-writer p%d refused %q with %s, not forbidden", op.Peer+1, op.Value, op.Code))
		default:
			nw["unreachable"]++ // down, paused or timed out: the peer did not answer
		}
	}
	res.Valid = len(bad) == 0
	res.Summary = fmt.Sprintf("%s: writer puts %d ok / %d fail / %d info / %d forbidden; non-writer puts %d refused 403 forbidden / %d unanswered / %d other errors / %d accepted",
		signedNS, w[TypeOK], w[TypeFail], w[TypeInfo], w["forbidden"], nw["forbidden"], nw["unreachable"], nw["other"], nw["accepted"])
	res.Offending = flatten(bad)
	return res
}

// checkBadInput: no bad input changed state, got through, or crashed a
// peer; and the peers counted the trust refusals (allowlist, refused
// states) they made.
func checkBadInput(in Input) Result {
	b := in.BadInput
	t := b.Trust
	res := Result{Name: "bad-input", Valid: b.Accepted() == 0 && b.APIServerErrors == 0 && len(in.Crashes) == 0}
	res.Summary = fmt.Sprintf("gossip %d sent / %d rejections counted by peers; sync streams %d sent / %d rejected / %d hung; api %d sent / %d rejected / %d unreachable / %d server errors; %s; accepted %d, crashes %d",
		b.GossipSent, b.GossipRejected, b.SyncSent, b.SyncRejected, b.SyncHung, b.APISent, b.APIRejected, b.APIUnreachable, b.APIServerErrors, t.Summary(), b.Accepted(), len(in.Crashes))
	for _, p := range []struct {
		name string
		p    Probe
	}{{"wrong-network", t.WrongNetwork}, {"no-key", t.NoKey}, {"wrong-key", t.WrongKey}, {"not-allowlisted", t.NotAllowlisted}} {
		if p.p.Accepted > 0 {
			res.Offending = append(res.Offending, fmt.Sprintf("%s: %d of %d connections stood", p.name, p.p.Accepted, p.p.Sent))
		}
	}
	if t.NotAllowlisted.Refused > 0 && t.AllowlistRefusals == 0 {
		res.Valid = false
		res.Offending = append(res.Offending, fmt.Sprintf("not-allowlisted: %d refused, but no peer counted an allowlist refusal", t.NotAllowlisted.Refused))
	}
	refused := 0
	for _, n := range t.RefusedStates {
		refused += n
	}
	if t.ForgedGossip+t.ForgedSync > 0 && refused == 0 {
		res.Valid = false
		res.Offending = append(res.Offending, fmt.Sprintf("forged: %d forged states sent, but no peer counted a refused state", t.ForgedGossip+t.ForgedSync))
	}
	for _, k := range b.AcceptedKeys {
		res.Offending = append(res.Offending, "bad input stored: "+k)
	}
	if b.APIServerErrors > 0 {
		res.Offending = append(res.Offending, fmt.Sprintf("%d invalid API requests answered 5xx instead of a clear error", b.APIServerErrors))
	}
	if b.APIAccepted > 0 {
		res.Offending = append(res.Offending, fmt.Sprintf("%d invalid API requests answered 2xx", b.APIAccepted))
	}
	for _, c := range in.Crashes {
		res.Offending = append(res.Offending, "crash: "+c)
	}
	return res
}
