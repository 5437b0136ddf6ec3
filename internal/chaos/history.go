package chaos

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Operation functions (Op.F).
const (
	FPut  = "put"  // PUT /v1/kv/{key}: Value written; Version from apitype.VersionHeader
	FGet  = "get"  // GET /v1/kv/{key}: Value and Version read, or Absent
	FIncr = "incr" // POST /v1/counter/{key}?by=Delta: Result is the new value on the peer
	FDel  = "del"  // DELETE /v1/kv/{key}
	// FPut with Cond is a conditional write (CAS, put-if-absent); with TTL,
	// a put that expires.
	FSetAdd = "set-add" // POST /v1/set/{key}: Value is the member
	FSetRem = "set-rm"  // DELETE /v1/set/{key}: Value is the member
	FTxn    = "txn"     // POST /v1/txn: put Key+"a", put Key+"b" (both Value), incr Key+"n"; Versions of the puts
)

// Completion types (Op.Type), as in Jepsen: ok and fail are definite; info
// is indeterminate (a timeout: the operation may or may not have happened).
const (
	TypeInvoke = "invoke"
	TypeOK     = "ok"
	TypeFail   = "fail"
	TypeInfo   = "info"
)

// Op is one client operation: the invocation and its completion.
type Op struct {
	ID       int64         `json:"id"`
	Process  int           `json:"process"` // client worker
	F        string        `json:"f"`
	Peer     int           `json:"peer"` // index of the peer the request went to
	Key      string        `json:"key"`  // "ns:key" outside the default namespace (qualified)
	Value    string        `json:"value,omitempty"`
	Delta    int64         `json:"delta,omitempty"`
	Result   int64         `json:"result,omitempty"`
	Version  uint64        `json:"version,omitempty"`
	Absent   bool          `json:"absent,omitempty"`
	Type     string        `json:"type"`
	Invoke   time.Duration `json:"invoke_ns"`
	Complete time.Duration `json:"complete_ns,omitempty"`
	Error    string        `json:"error,omitempty"`
	Code     string        `json:"code,omitempty"` // the API's error code (apitype.Error.Code), if any
	Cond     string        `json:"cond,omitempty"` // a put's condition: condAbsent, or the version required (decimal)
	TTL      time.Duration `json:"ttl_ns,omitempty"`
	Versions []uint64      `json:"versions,omitempty"` // a txn's put versions, in op order
}

// Event is something the harness did or saw outside the workload: a fault,
// a heal, a restart, a durability read, a message of the rogue peer.
type Event struct {
	Time   time.Duration `json:"time_ns"`
	Kind   string        `json:"kind"`
	Peers  []int         `json:"peers,omitempty"`
	Detail string        `json:"detail,omitempty"`
}

// History records operations and events in memory and as JSON lines
// ({"op": ...} or {"event": ...}, one per line) on w. Safe for concurrent
// use.
type History struct {
	start time.Time
	mu    struct {
		sync.Mutex
		w      *bufio.Writer
		nextID int64
		ops    []Op
		events []Event
		err    error
	}
}

// NewHistory starts a history whose times count from start.
func NewHistory(w io.Writer, start time.Time) *History {
	h := &History{start: start}
	if w != nil {
		h.mu.w = bufio.NewWriterSize(w, 256<<10)
	}
	return h
}

// Since returns the time since the start of the history.
func (h *History) Since() time.Duration { return time.Since(h.start) }

func (h *History) writeLocked(v any) {
	if h.mu.w == nil || h.mu.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		b = append(b, '\n')
		_, err = h.mu.w.Write(b)
	}
	h.mu.err = err
}

// Invoke records the invocation of op and returns it with its ID and time
// set; pass it to Complete.
func (h *History) Invoke(op Op) Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.nextID++
	op.ID, op.Type, op.Invoke = h.mu.nextID, TypeInvoke, time.Since(h.start)
	h.writeLocked(struct {
		Op Op `json:"op"`
	}{op})
	return op
}

// Complete records op's completion (op.Type ok, fail or info).
func (h *History) Complete(op Op) Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	op.Complete = time.Since(h.start)
	h.mu.ops = append(h.mu.ops, op)
	h.writeLocked(struct {
		Op Op `json:"op"`
	}{op})
	return op
}

// Event records a harness event.
func (h *History) Event(kind, detail string, peers ...int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := Event{Time: time.Since(h.start), Kind: kind, Peers: peers, Detail: detail}
	h.mu.events = append(h.mu.events, e)
	h.writeLocked(struct {
		Event Event `json:"event"`
	}{e})
}

// Ops returns a copy of the completed operations in completion order.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.mu.ops...)
}

// Events returns a copy of the events.
func (h *History) Events() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Event(nil), h.mu.events...)
}

// Flush writes buffered lines and returns the first write error.
func (h *History) Flush() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.w != nil && h.mu.err == nil {
		h.mu.err = h.mu.w.Flush()
	}
	return h.mu.err
}
