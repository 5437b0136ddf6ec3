package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// Key spaces of the workload.
const (
	hotKeyPrefix     = "r/"   // LWW registers, written by every worker through every peer
	counterKeyPrefix = "c/"   // PN-counters
	deleteKeyPrefix  = "d/"   // written once, then deleted, never written again
	badKeyPrefix     = "bad/" // targets of the bad-input workload: must never exist
	signedKeyPrefix  = "s/"   // LWW registers of signedNS, put through every peer: refused (403) on non-writers
	// auxNS is a second plain namespace (no writer list) with its own hot
	// registers, so that replication is checked across namespaces.
	auxNS = "aux"
)

// bigSep separates a large value's text from its padding of 'x': the
// history records "text|x<n>" (see normValue), not megabytes.
const bigSep = "|"

// normValue returns v as the history records it: a value padded to a large
// size becomes "text|x<n>".
func normValue(v string) string {
	if len(v) < 4096 {
		return v
	}
	if i := strings.Index(v, bigSep); i >= 0 {
		return fmt.Sprintf("%s%sx%d", v[:i], bigSep, len(v)-i-len(bigSep))
	}
	return fmt.Sprintf("?%dbytes", len(v))
}

// workload is the client side: workers bound to peers, each with its own
// seeded random source.
type workload struct {
	cfg     Config
	hist    *History
	c       *Client
	peers   []*Daemon
	hotKeys []string // registers: the default namespace's, then signedNS's (qualified)
	ctrKeys []string
	signed  []string // signedNS's keys (qualified)
}

func newWorkload(cfg Config, hist *History, c *Client, peers []*Daemon) *workload {
	w := &workload{cfg: cfg, hist: hist, c: c, peers: peers}
	for i := range cfg.HotKeys {
		w.hotKeys = append(w.hotKeys, fmt.Sprintf("%s%d", hotKeyPrefix, i))
	}
	for i := range max(1, cfg.HotKeys/2) {
		w.signed = append(w.signed, qualified(signedNS, fmt.Sprintf("%s%d", signedKeyPrefix, i)))
	}
	for i := range max(1, cfg.HotKeys/2) {
		w.hotKeys = append(w.hotKeys, qualified(auxNS, fmt.Sprintf("%s%d", hotKeyPrefix, i)))
	}
	w.hotKeys = append(w.hotKeys, w.signed...)
	for i := range cfg.CounterKeys {
		w.ctrKeys = append(w.ctrKeys, fmt.Sprintf("%s%d", counterKeyPrefix, i))
	}
	return w
}

// worker runs one client until ctx is done. Worker i talks to peer
// i mod N, as a Jepsen process is bound to a node.
func (w *workload) worker(ctx context.Context, id int, rng *rand.Rand) {
	peer := id % len(w.peers)
	seq := 0
	// The delete life cycle of this worker: put a fresh key, delete it after
	// the put is acknowledged, then read deleted keys back now and then.
	var pending string // written (ok), not yet deleted
	var deleted []string
	for ctx.Err() == nil {
		if !w.peers[peer].Started() { // a joiner, not yet started
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		seq++
		addr := w.peers[peer].API()
		if w.newTypesOp(ctx, id, peer, addr, fmt.Sprintf("w%d/%d", id, seq), rng) {
			w.think(ctx, rng)
			continue
		}
		switch r := rng.Float64(); {
		case r < 0.34:
			key := w.hotKeys[rng.IntN(len(w.hotKeys)-len(w.signed))]
			if rng.Float64() < w.cfg.BigValueProb {
				w.putBig(ctx, id, peer, addr, key, fmt.Sprintf("w%d/%d", id, seq), rng)
				break
			}
			w.put(ctx, id, peer, addr, key, fmt.Sprintf("w%d/%d", id, seq))
		case r < 0.40: // through a writer or not: checkWriters
			w.put(ctx, id, peer, addr, w.signed[rng.IntN(len(w.signed))], fmt.Sprintf("w%d/%d", id, seq))
		case r < 0.60:
			w.get(ctx, id, peer, addr, w.hotKeys[rng.IntN(len(w.hotKeys))])
		case r < 0.82:
			by := int64(rng.IntN(5) + 1)
			if rng.IntN(2) == 0 {
				by = -by
			}
			w.incr(ctx, id, peer, addr, w.ctrKeys[rng.IntN(len(w.ctrKeys))], by)
		case r < 0.92 || len(deleted) == 0:
			if pending == "" {
				key := fmt.Sprintf("%s%d/%d", deleteKeyPrefix, id, seq)
				if w.put(ctx, id, peer, addr, key, fmt.Sprintf("w%d/%d", id, seq)) == TypeOK {
					pending = key
				}
				// fail: nothing to delete; info: the put may still land later
				// than a delete would, so the key is abandoned.
				continue
			}
			switch w.del(ctx, id, peer, addr, pending) {
			case TypeOK:
				deleted = append(deleted, pending)
				pending = ""
			case TypeInfo:
				pending = "" // indeterminate: not checked as deleted
			}
		default:
			w.get(ctx, id, peer, addr, deleted[rng.IntN(len(deleted))])
		}
		w.think(ctx, rng)
	}
}

// newTypesOp runs, three times in ten, an operation on a newer type:
// a conditional write, a TTL put or read, a set add or remove, or a txn.
// It reports whether it ran one.
func (w *workload) newTypesOp(ctx context.Context, id, peer int, addr, value string, rng *rand.Rand) bool {
	x := rng.Float64()
	switch {
	case x < 0.08:
		w.casOp(ctx, id, peer, addr, value, rng, w.hist.Since())
	case x < 0.16:
		w.ttlOp(ctx, id, peer, addr, value, rng)
	case x < 0.24:
		w.setOp(ctx, id, peer, addr, rng)
	case x < 0.30:
		w.txnOp(ctx, id, peer, addr, value, rng)
	default:
		return false
	}
	return true
}

// think pauses a worker for a random time around ThinkTime.
func (w *workload) think(ctx context.Context, rng *rand.Rand) {
	if w.cfg.ThinkTime > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(rng.Int64N(int64(w.cfg.ThinkTime)*2 + 1))):
		}
	}
}

// opCtx is the context of one request: not cut short by the end of the
// workload (an in-flight request completes or times out on its own, so its
// outcome is known), but by the harness stopping.
func opCtx(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func classify(err error) string {
	if err == nil {
		return TypeOK
	}
	return outcome(err)
}

// putBig puts a value of 1 MiB up to the maximum value size (the maximum
// itself a third of the time): text, bigSep, then padding.
func (w *workload) putBig(ctx context.Context, proc, peer int, addr, key, text string, rng *rand.Rand) string {
	size := w.cfg.MaxValueSize
	if rng.IntN(3) > 0 {
		size = 1<<20 + rng.IntN(w.cfg.MaxValueSize-1<<20)
	}
	return w.putValue(ctx, proc, peer, addr, key, text+bigSep+strings.Repeat("x", size-len(text)-len(bigSep)))
}

func (w *workload) put(ctx context.Context, proc, peer int, addr, key, value string) string {
	return w.putValue(ctx, proc, peer, addr, key, value)
}

func (w *workload) putValue(ctx context.Context, proc, peer int, addr, key, value string) string {
	op := w.hist.Invoke(Op{Process: proc, F: FPut, Peer: peer, Key: key, Value: normValue(value)})
	ns, k := splitQualified(key)
	v, err := w.c.PutNS(opCtx(ctx), addr, ns, k, value)
	op.Type, op.Version = classify(err), v
	if err != nil {
		op.Error = err.Error()
		var ae *apitype.Error
		if errors.As(err, &ae) {
			op.Code = ae.Code
		}
	}
	w.hist.Complete(op)
	return op.Type
}

func (w *workload) get(ctx context.Context, proc, peer int, addr, key string) {
	op := w.hist.Invoke(Op{Process: proc, F: FGet, Peer: peer, Key: key})
	r, err := w.c.Get(opCtx(ctx), addr, key)
	op.Type = classify(err)
	if err != nil {
		op.Error = err.Error()
		if op.Type == TypeInfo {
			op.Type = TypeFail // a read that did not answer changed nothing
		}
	} else {
		op.Value, op.Version, op.Absent = r.Value, r.Version, r.Absent
	}
	w.hist.Complete(op)
}

func (w *workload) incr(ctx context.Context, proc, peer int, addr, key string, by int64) {
	op := w.hist.Invoke(Op{Process: proc, F: FIncr, Peer: peer, Key: key, Delta: by})
	v, err := w.c.Incr(opCtx(ctx), addr, key, by)
	op.Type, op.Result = classify(err), v
	if err != nil {
		op.Error = err.Error()
	}
	w.hist.Complete(op)
}

func (w *workload) del(ctx context.Context, proc, peer int, addr, key string) string {
	op := w.hist.Invoke(Op{Process: proc, F: FDel, Peer: peer, Key: key})
	err := w.c.Delete(opCtx(ctx), addr, key)
	op.Type = classify(err)
	if err != nil {
		op.Error = err.Error()
	}
	w.hist.Complete(op)
	return op.Type
}

// durabilityCheck reads back, on a peer just restarted and still isolated,
// every register write it acknowledged before it was killed at killedAt
// (ok puts and deletes in hist): each must be there, at its version or a
// greater one. Workers talk to the restarted peer meanwhile, so a key it
// deleted since (or may have: info) may be absent.
func durabilityCheck(ctx context.Context, c *Client, d *Daemon, hist *History, peerIDs []string, killedAt time.Duration) DurabilityCheck {
	res := DurabilityCheck{Peer: d.Index, At: hist.Since()}
	ops := hist.Ops()
	in := Input{Ops: ops, PeerIDs: peerIDs}
	puts := in.puts()
	type want struct {
		s     stamp
		value string
		del   bool
		exp   int64 // Unix ms when it expires (a TTL put), else 0
	}
	wants := map[string]want{}
	for _, op := range ops {
		if op.Peer != d.Index || op.Type != TypeOK || op.Complete >= killedAt {
			continue
		}
		switch op.F {
		case FPut:
			s := stamp{op.Version, in.origin(op.Peer)}
			if cur, ok := wants[op.Key]; !ok || (!cur.del && s.cmp(cur.s) > 0) {
				wants[op.Key] = want{s: s, value: op.Value}
				if op.TTL > 0 {
					wants[op.Key] = want{s: s, value: op.Value, exp: expiry(op.Version, op.TTL)}
				}
			}
		case FDel:
			wants[op.Key] = want{del: true}
		}
	}
	for key, wt := range wants {
		r, err := c.Get(ctx, d.API(), key)
		if err != nil {
			res.Err = fmt.Sprintf("reading %s: %v", key, err)
			return res
		}
		res.Checked++
		switch {
		case wt.del && !r.Absent:
			res.Missing = append(res.Missing, fmt.Sprintf("%s: acknowledged delete undone (reads %q)", key, r.Value))
		case wt.del:
		case r.Absent && wt.exp != 0 && wt.exp <= time.Now().UnixMilli(): // expired
		case r.Absent && laterExpired(ops, in, key, wt.s, time.Now().UnixMilli()):
		case r.Absent:
			if !deletedSince(hist.Ops(), d.Index, key) {
				res.Missing = append(res.Missing, fmt.Sprintf("%s: acknowledged write %q %s missing", key, wt.value, wt.s))
			}
		default:
			got := stamp{r.Version, ""}
			if w, ok := puts[key+"\x00"+r.Value]; ok {
				got.origin = in.origin(w.Peer)
			}
			if got.cmp(wt.s) < 0 {
				res.Missing = append(res.Missing, fmt.Sprintf("%s: acknowledged write %q %s replaced by older %q %s", key, wt.value, wt.s, r.Value, got))
			}
		}
	}
	return res
}

// laterExpired reports whether ops hold an acknowledged put of key with a
// TTL, through any peer, stamped after s and expired by now (Unix ms): it
// may have replaced s's value on the peer before the kill, then expired.
func laterExpired(ops []Op, in Input, key string, s stamp, now int64) bool {
	for _, op := range ops {
		if op.F != FPut || op.Key != key || op.Type != TypeOK || op.TTL <= 0 {
			continue
		}
		if (stamp{op.Version, in.origin(op.Peer)}).cmp(s) > 0 && expiry(op.Version, op.TTL) <= now {
			return true
		}
	}
	return false
}

// deletedSince reports whether ops hold a delete of key through peer that
// may have happened (ok or info).
func deletedSince(ops []Op, peer int, key string) bool {
	for _, op := range ops {
		if op.F == FDel && op.Peer == peer && op.Key == key && op.Type != TypeFail {
			return true
		}
	}
	return false
}
