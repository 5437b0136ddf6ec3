package gossip

import (
	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
)

// maxWarnedStates bounds the keys remembered as already warned about (a
// state too large for a peer): past it, further ones are logged at debug.
const maxWarnedStates = 4096

// hello returns this side's hello payload: the namespaces it holds, the
// largest states frame it reads, that it speaks plans and reads
// compressed states, and the patterns it replicates.
func (s *Syncer) hello(namespaces []string) []byte {
	b := wire.AppendHelloStatesLimit(wire.AppendHello(nil, namespaces), wire.StatesFrameLimit(s.cfg.MaxValueSize))
	return wire.AppendHelloPatterns(wire.AppendHelloS2(wire.AppendHelloPlans(b)), s.cfg.Namespaces)
}

// chunker packs the states of one namespace into states frames of about
// ChunkBytes, each within the peer's states frame limit: a state that
// would overflow the current chunk's limit goes into the next chunk, and a
// state larger than the limit on its own is skipped (warned about once per
// key) rather than failing the round, so that the rest of the namespace
// still replicates.
type chunker struct {
	s      *Syncer
	c      *frameConn
	ns     string
	st     *NamespaceStats
	chunk  []byte
	header int
}

func (s *Syncer) newChunker(c *frameConn, ns string, st *NamespaceStats) *chunker {
	chunk := wire.AppendHeader(nil, ns)
	return &chunker{s: s, c: c, ns: ns, st: st, chunk: chunk, header: len(chunk)}
}

// add appends one state, sending the chunk first if the state would take
// it over the peer's limit, and after if it reached ChunkBytes.
func (k *chunker) add(key []byte, state crdt.State) error {
	enc := crdt.Encode(state)
	size := wire.DeltaSize(key, enc)
	limit := k.c.peerStatesLimit - 1 // the kind byte
	if k.header+size > limit {
		k.s.warnTooLarge(k.ns, key, 1+k.header+size, k.c.peerStatesLimit)
		return nil
	}
	if len(k.chunk)+size > limit {
		if err := k.flush(); err != nil {
			return err
		}
	}
	k.chunk = wire.AppendDelta(k.chunk, key, enc)
	k.st.StatesSent++
	if len(k.chunk) < k.s.cfg.ChunkBytes {
		return nil
	}
	return k.flush()
}

// flush sends the chunk, if it holds a state.
func (k *chunker) flush() error {
	if len(k.chunk) == k.header {
		return nil
	}
	err := k.c.writeStates(k.chunk)
	k.chunk = k.chunk[:k.header]
	return err
}

// warnTooLarge logs, once per key, a state a peer cannot receive.
func (s *Syncer) warnTooLarge(ns string, key []byte, frame, limit int) {
	id := ns + "\x00" + string(key)
	s.mu.Lock()
	_, seen := s.mu.warned[id]
	full := len(s.mu.warned) >= maxWarnedStates
	if !seen && !full {
		s.mu.warned[id] = struct{}{}
	}
	s.mu.Unlock()
	log := s.log.Warn
	if seen || full {
		log = s.log.Debug
	}
	log("sync: state too large for a peer; not sent (the peer accepts smaller values: raise its --max-value-size)",
		"namespace", ns, "key", string(key), "frame_bytes", frame, "peer_limit", limit)
}
