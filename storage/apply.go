package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Increment adds By (which may be negative) to Origin's slot of a counter.
type Increment struct {
	Origin crdt.ReplicaID
	By     int64
	// Sign, if set, returns Origin's signature of the new slot (Sig empty;
	// the caller signs crdt.AppendSlotPayload): storage knows the slot only
	// once it has read the stored counter, inside Apply. It is called from
	// Apply, with the batch's lock held, so it must not call back into the
	// DB. An error refuses the op (wrapped in Result.Err). nil: unsigned.
	Sign func(crdt.Slot) (string, error)
}

// Op is one mutation: exactly one of State (merge this state: a register
// write or tombstone, a counter delta, a state received from a peer) or
// Incr (increment a counter on behalf of Incr.Origin). Its type, and so
// which key it addresses, is State.Type() or crdt.TypeCounter for Incr.
//
// Set (add or remove set members) and Reset (reset a counter), see set.go,
// are further kinds computed from the stored state like Incr; an op has
// exactly one of State, Incr, Set and Reset.
type Op struct {
	Namespace string
	Key       []byte
	State     crdt.State
	Incr      *Increment
	Set       *SetOp
	Reset     *CounterReset
	// Cond, if set, is a precondition on a register write (see Cond); an
	// op whose condition fails gets ErrConditionFailed.
	Cond *Cond
}

// Result is the outcome of one Op.
type Result struct {
	// Changed reports whether the stored state changed.
	Changed bool
	// Index is the change's index in the change log when Changed (see
	// Changes): greater than every index committed before it, never
	// reused. 0 otherwise.
	Index uint64
	// State is the stored state after the op (nil if none).
	State crdt.State
	// Delta is what to publish or forward: the op's State when Changed (a
	// tombstone with its Value cleared), nil otherwise; for Incr the counter
	// delta holding the origin's slot only.
	Delta crdt.State
	// Err is this op's refusal (ErrInvalidKey, ErrInvalidNamespace,
	// ErrInvalidArgument, ErrTooLarge, ErrCorrupt, crdt.ErrOverflow, ...) or,
	// when a later transaction of a split batch failed, that failure. An
	// op with Err changed nothing.
	Err error
}

// inMemoryMaxValue is Badger's largest value in memory mode (its maximum
// value threshold); larger values make Badger fail the transaction.
const inMemoryMaxValue = 1 << 20

// write is one Badger mutation.
type write struct {
	key, val []byte
	del      bool
}

// group is the writes of one op, committed all or nothing.
type group struct {
	op      int // index in the batch
	writes  []write
	tree    treeDelta
	hasTree bool
	regTime crdt.Timestamp // register time the op carried (0 if none)
	index   uint64         // change index (0 if none)
}

// arena hands out byte slices carved from chunks, so a batch's keys and
// small values cost a few allocations instead of one each. Slices stay
// valid (chunks are never reused) until the arena is dropped. Each new
// chunk is twice the last, up to arenaChunk: a batch of one op must not
// allocate a 64 KiB chunk for its last few bytes (measured: that was a
// fifth of every byte a daemon allocated under a put load).
type arena struct{ buf []byte }

const arenaChunk = 64 << 10

func (a *arena) take(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(min(2*cap(a.buf), arenaChunk), n, 256))
	}
	start := len(a.buf)
	a.buf = a.buf[:start+n]
	return a.buf[start : start : start+n]
}

// cached is the batch's view of one key: the state after the ops so far.
type cached struct {
	state crdt.State // nil if absent
	fp    uint64     // its fingerprint
}

// Apply applies ops in order. Each op is merged with the stored state (as
// left by earlier ops of the batch, so two Incr of one key in one batch
// both count); only winners are written, together with their hash-index
// entries, tombstone-index entries and the clock mark, in one Badger
// transaction. If Badger reports the transaction too big, the batch is
// committed in consecutive transactions, in order, each holding whole ops:
// a crash can then leave a prefix of the batch applied.
//
// It returns one Result per op, index-aligned. A refused op (see
// Result.Err) does not stop the others. The error is non-nil only when
// nothing could be committed (then every Result carries it too, or its own
// refusal); ErrClosed after Close.
//
// Apply blocks until the commit is durable (with SyncWrites). It is safe
// for concurrent use; calls are serialized, so batch writes to share an
// fsync. Apply does not retain ops; Results may share Value slices with
// them.
func (db *DB) Apply(ops []Op) ([]Result, error) {
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	db.applyMu.Lock()
	defer db.applyMu.Unlock()

	results := make([]Result, len(ops))
	// One transaction reads the stored states and, if the batch fits,
	// writes the winners.
	txn := db.bdb.NewTransaction(true)
	groups, err := db.plan(txn, ops, results)
	if err != nil {
		txn.Discard()
		for i := range results {
			if results[i].Err == nil {
				results[i] = Result{Err: err}
			}
		}
		return results, err
	}
	done, err := db.commitGroups(txn, groups)
	if err == nil {
		return results, nil
	}
	// groups[done:] did not commit; neither did any op planned after them.
	first := groups[done].op
	for i := first; i < len(results); i++ {
		if results[i].Err == nil {
			results[i] = Result{Err: err}
		}
	}
	if done == 0 {
		return results, err
	}
	return results, nil
}

// plan merges every op against the stored state and the batch's earlier
// ops, filling results and returning the writes. It fails only on a read
// error, before anything is written. The caller holds applyMu.
func (db *DB) plan(txn *badger.Txn, ops []Op, results []Result) ([]group, error) {
	var cache map[string]*cached
	if len(ops) > 1 {
		cache = make(map[string]*cached, len(ops))
	}
	groups := make([]group, 0, len(ops))
	p := &planner{writes: make([]write, 0, 2*len(ops)+1)}
	size := 0
	for i := range ops {
		size += dataKeyLen(ops[i].Namespace, ops[i].Key) + hashKeyLen(ops[i].Namespace, ops[i].Key) + 8
	}
	p.arena.buf = make([]byte, 0, min(size, arenaChunk))
	for i := range ops {
		op := &ops[i]
		typ, delta, regTime, err := checkOp(op)
		if err != nil {
			results[i].Err = err
			continue
		}
		dk := appendDataKey(p.arena.take(dataKeyLen(op.Namespace, op.Key)), op.Namespace, typ, op.Key)
		cur := cache[string(dk)]
		if cur == nil {
			cur = &cached{}
			var s crdt.State
			err := ErrNotFound
			if !db.absentLocked(op.Namespace, PlacementHash(typ, op.Key)) {
				s, err = getState(txn, dk, typ)
			}
			switch {
			case err == nil:
				cur.state, cur.fp = s, ItemHash(typ, op.Key, crdt.Encode(s))
			case errors.Is(err, ErrCorrupt):
				results[i].Err = err
				continue
			case err != ErrNotFound:
				return nil, err
			}
			if cache != nil {
				cache[string(dk)] = cur
			}
		}
		g := group{op: i, regTime: regTime}
		start := len(p.writes)
		res, err := db.planOp(p, op, typ, delta, dk, cur, &g)
		if err != nil {
			res.Err = err
			results[i] = res
			continue
		}
		if res.Changed {
			db.logChange(p, &g, op.Namespace, typ, op.Key, &res)
		}
		results[i] = res
		g.writes = p.writes[start:len(p.writes):len(p.writes)]
		groups = append(groups, g)
	}
	return groups, nil
}

// checkOp validates op and returns its type and the delta to merge.
func checkOp(op *Op) (crdt.Type, crdt.State, crdt.Timestamp, error) {
	if err := ValidNamespace(op.Namespace); err != nil {
		return 0, nil, 0, err
	}
	if err := validKey(op.Key); err != nil {
		return 0, nil, 0, err
	}
	if _, isRegister := op.State.(crdt.Register); op.Cond != nil && !isRegister {
		return 0, nil, 0, fmt.Errorf("%w: only a register write can have a condition", ErrInvalidArgument)
	}
	if typ, delta, ok, err := checkLocalOp(op); ok {
		return typ, delta, 0, err
	}
	switch {
	case op.Incr != nil && op.State != nil:
		return 0, nil, 0, fmt.Errorf("%w: op has both State and Incr", ErrInvalidArgument)
	case op.Incr != nil:
		if len(op.Incr.Origin) > crdt.MaxReplicaIDLen {
			return 0, nil, 0, fmt.Errorf("%w: origin of %d bytes", ErrInvalidArgument, len(op.Incr.Origin))
		}
		return crdt.TypeCounter, nil, 0, nil
	}
	switch s := op.State.(type) {
	case crdt.Register:
		if len(s.Origin) > crdt.MaxReplicaIDLen {
			return 0, nil, 0, fmt.Errorf("%w: origin of %d bytes", ErrInvalidArgument, len(s.Origin))
		}
		if s.Deleted {
			s.Value = nil
		}
		return crdt.TypeRegister, s, s.Time, nil
	case crdt.Counter:
		if s.Len() > crdt.MaxCounterSlots {
			return 0, nil, 0, fmt.Errorf("%w: counter of %d slots", ErrInvalidArgument, s.Len())
		}
		for _, id := range s.Replicas() {
			if len(id) > crdt.MaxReplicaIDLen {
				return 0, nil, 0, fmt.Errorf("%w: origin of %d bytes", ErrInvalidArgument, len(id))
			}
		}
		return crdt.TypeCounter, s, 0, nil
	case nil:
		return 0, nil, 0, fmt.Errorf("%w: op has neither State nor Incr", ErrInvalidArgument)
	}
	return 0, nil, 0, fmt.Errorf("%w: unsupported state %T", ErrInvalidArgument, op.State)
}

// planner holds a batch's scratch space: the arena for keys and the writes
// of all groups, each group owning a contiguous run.
type planner struct {
	arena  arena
	writes []write
}

// planOp merges one op into cur, appending its writes to p.writes (only
// on success), setting g's tree delta and updating cur.
func (db *DB) planOp(p *planner, op *Op, typ crdt.Type, delta crdt.State, dk []byte, cur *cached, g *group) (Result, error) {
	if err := db.checkCond(op, cur.state); err != nil {
		return Result{State: cur.state}, err
	}
	if op.Incr != nil {
		c, _ := cur.state.(crdt.Counter)
		d, err := c.Increment(op.Incr.Origin, op.Incr.By)
		if err != nil {
			return Result{}, err
		}
		if op.Incr.Sign != nil && d.Len() > 0 {
			slot := d.Slot(op.Incr.Origin)
			if slot.Sig, err = op.Incr.Sign(slot); err != nil {
				return Result{}, fmt.Errorf("storage: sign: %w", err)
			}
			d = crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{op.Incr.Origin: slot})
		}
		delta = d
	}
	if d, ok, err := localDelta(op, cur.state); ok {
		if err != nil {
			return Result{}, err
		}
		delta = d
	}
	if emptyDelta(delta) {
		return Result{State: cur.state}, nil // an empty delta changes nothing
	}
	merged, changed, err := crdt.Merge(cur.state, delta)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if !changed {
		return Result{State: cur.state}, nil
	}
	if c, ok := merged.(crdt.Counter); ok && c.Len() > crdt.MaxCounterSlots {
		return Result{}, fmt.Errorf("%w: counter would hold %d slots", ErrTooLarge, c.Len())
	}
	enc := crdt.Encode(merged)
	if db.opts.InMemory && len(enc) > inMemoryMaxValue {
		return Result{}, fmt.Errorf("%w: %d bytes exceed the in-memory limit of %d", ErrTooLarge, len(enc), inMemoryMaxValue)
	}
	if err := checkSetSize(op, enc); err != nil {
		return Result{}, err
	}
	fp := ItemHash(typ, op.Key, enc)
	p.writes = append(p.writes, write{key: dk, val: enc})
	if !db.skipIndex {
		h := PlacementHash(typ, op.Key)
		hk := appendHashKey(p.arena.take(hashKeyLen(op.Namespace, op.Key)), op.Namespace, h, typ, op.Key)
		p.writes = append(p.writes, write{key: hk, val: binary.BigEndian.AppendUint64(p.arena.take(8), fp)})
		g.hasTree = true
		g.tree = treeDelta{ns: op.Namespace, typ: typ, hash: h, count: 1, sum: fp}
		if cur.state != nil {
			g.tree.count, g.tree.sum = 0, fp-cur.fp
		}
	}
	if old, ok := cur.state.(crdt.Register); ok {
		if t := purgeTime(old); t != 0 {
			p.writes = append(p.writes, write{key: tombKey(t, op.Namespace, op.Key), del: true})
		}
	}
	if r, ok := merged.(crdt.Register); ok {
		if t := purgeTime(r); t != 0 {
			p.writes = append(p.writes, write{key: tombKey(t, op.Namespace, op.Key), val: []byte{}})
		}
	}
	p.writes = appendResetIndex(p.writes, op.Namespace, op.Key, cur.state, merged)
	cur.state, cur.fp = merged, fp
	return Result{Changed: true, State: merged, Delta: delta}, nil
}

// commitGroups commits groups in order, in as few transactions as Badger
// allows, the first being txn (which it consumes). It returns how many
// groups committed, and the error that stopped it.
func (db *DB) commitGroups(txn *badger.Txn, groups []group) (int, error) {
	done := 0
	for done < len(groups) {
		n, err := db.commitSome(txn, groups[done:])
		txn = nil
		done += n
		if err != nil {
			return done, err
		}
	}
	if txn != nil {
		txn.Discard()
	}
	return done, nil
}

// commitSome commits the longest prefix of gs that fits in one transaction
// (at least one group) and returns its length. It uses txn if not nil
// (and consumes it), else new transactions.
func (db *DB) commitSome(txn *badger.Txn, gs []group) (int, error) {
	n := len(gs)
	for n > 0 {
		if txn == nil {
			txn = db.bdb.NewTransaction(true)
		}
		fit, saved, err := db.fill(txn, gs[:n])
		if err == nil {
			return n, db.finish(txn, gs[:n], saved)
		}
		txn.Discard()
		txn = nil
		if !errors.Is(err, badger.ErrTxnTooBig) {
			return 0, fmt.Errorf("storage: write: %w", translate(err))
		}
		if fit < n {
			n = fit
		} else {
			n-- // the clock mark did not fit
		}
	}
	return 0, fmt.Errorf("%w: one op exceeds Badger's transaction limit", ErrTooLarge)
}

// clockStep is the granularity of the persisted clock mark: it is saved
// rounded up to a whole second of HLC time, so only a commit that passes
// the saved value rewrites it (about once a second under steady writes)
// instead of every commit adding one more entry.
const clockStep = crdt.Timestamp(1000 << 16)

func roundClock(t crdt.Timestamp) crdt.Timestamp {
	if t > math.MaxUint64-clockStep {
		return math.MaxUint64
	}
	return (t + clockStep - 1) / clockStep * clockStep
}

// fill writes gs, and the clock mark if it must advance, into txn. It
// returns the clock mark written (0 if none); on error, how many groups
// were written whole.
func (db *DB) fill(txn *badger.Txn, gs []group) (int, crdt.Timestamp, error) {
	var mark crdt.Timestamp
	for i := range gs {
		for _, w := range gs[i].writes {
			var err error
			if w.del {
				err = txn.Delete(w.key)
			} else {
				err = txn.Set(w.key, w.val)
			}
			if err != nil {
				return i, 0, err
			}
		}
		mark = max(mark, gs[i].regTime)
	}
	if err := putSeqMark(txn, gs); err != nil {
		return len(gs), 0, err
	}
	if mark <= db.clockSaved {
		return len(gs), 0, nil
	}
	saved := roundClock(mark)
	if err := txn.Set(metaClock, binary.BigEndian.AppendUint64(nil, uint64(saved))); err != nil {
		return len(gs), 0, err
	}
	return len(gs), saved, nil
}

// finish commits txn and, only if that succeeds, applies gs to the trees
// (under their write lock, held only for that) and to the clock mark. The
// caller holds applyMu, so trees change in commit order.
func (db *DB) finish(txn *badger.Txn, gs []group, saved crdt.Timestamp) error {
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", translate(err))
	}
	db.commits.Add(1)
	var mark crdt.Timestamp
	db.trees.Lock()
	for i := range gs {
		if gs[i].hasTree {
			db.applyTreeLocked(gs[i].tree)
		}
		mark = max(mark, gs[i].regTime)
	}
	db.trees.Unlock()
	if uint64(mark) > db.clock.Load() {
		db.clock.Store(uint64(mark))
	}
	db.clockSaved = max(db.clockSaved, saved)
	if last := lastIndexOf(gs); last > db.lastIndex.Load() {
		db.lastIndex.Store(last)
	}
	return nil
}
