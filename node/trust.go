package node

import (
	"errors"
	"fmt"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// Signed namespaces (Config.Writers).
//
// In a namespace with a writer list every state carries its origin's
// Ed25519 signature (the origin's libp2p identity key) over its full
// content: a register over crdt.AppendRegisterPayload (namespace, key,
// time, origin, tombstone flag, value), each counter slot over
// crdt.AppendSlotPayload (namespace, key, origin, P, N), both opening with
// crdt.SignatureDomain. The signature is made once, by the origin, when it
// writes (Put, Delete, Incr); it is stored with the state and relayed
// unchanged by gossip and anti-entropy, never re-signed, so a peer relays
// states it may not write itself. Every state received goes through admit,
// the one admission function: gossip (the topic validator, Gossip.Admit),
// anti-entropy (applySynced) and, when it exists, import. Namespaces without
// a writer list skip all of it: no signing, no verification.

// Reasons a state is refused: the values of the reason label of
// grapevine_refused_states_total.
const (
	refusedUnsigned     = "unsigned"      // a register or slot without a signature
	refusedNotWriter    = "not_writer"    // its origin is not on the namespace's writer list
	refusedBadSignature = "bad_signature" // the signature does not verify for that origin and content
)

// errRefused is the cause admit wraps; reason is one of the refused*
// constants.
type errRefused struct{ ns, reason string }

func (e errRefused) Error() string {
	return fmt.Sprintf("node: state refused in signed namespace %q: %s", e.ns, e.reason)
}

// writerLists maps a signed namespace to its writers' public keys, taken
// from their peer IDs once, at New.
type writerLists map[string]map[crdt.ReplicaID]ic.PubKey

// newWriterLists checks Config.Writers (names, non-empty lists, Ed25519
// peer IDs) and extracts the keys.
func newWriterLists(cfg map[string][]libp2ppeer.ID) (writerLists, error) {
	var errs []error
	w := make(writerLists, len(cfg))
	for ns, ids := range cfg {
		if err := storage.ValidNamespace(ns); err != nil {
			errs = append(errs, fmt.Errorf("writers: namespace %q: use 1 to 64 of a-z 0-9 . _ -", ns))
			continue
		}
		if len(ids) == 0 {
			errs = append(errs, fmt.Errorf("writers: namespace %q has an empty writer list (leave it out for an open namespace)", ns))
			continue
		}
		keys := make(map[crdt.ReplicaID]ic.PubKey, len(ids))
		for _, id := range ids {
			k, err := id.ExtractPublicKey()
			if err != nil || k == nil || k.Type() != ic.Ed25519 {
				errs = append(errs, fmt.Errorf("writers: namespace %q: peer ID %q does not embed an Ed25519 public key", ns, id))
				continue
			}
			keys[crdt.ReplicaID(id)] = k
		}
		w[ns] = keys
	}
	return w, errors.Join(errs...)
}

// newRefusedMetric registers grapevine_refused_states_total.
func newRefusedMetric(reg *prometheus.Registry) *prometheus.CounterVec {
	m := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grapevine_refused_states_total",
		Help: "States received (gossip, anti-entropy) in a namespace with a writer list and refused: unsigned, not_writer or bad_signature. A refused state changes nothing.",
	}, []string{"namespace", "reason"})
	reg.MustRegister(m)
	return m
}

// admit is the one admission function for states from other peers: in a
// namespace without a writer list it accepts everything at no cost; in a
// signed one it accepts st only if it (every slot of a counter) is signed
// by its origin, the origin is a writer, and the signature verifies over
// (ns, key, st). A refusal is counted and returned wrapping ErrForbidden;
// the caller must then drop st. Safe for concurrent use.
func (n *Node) admit(ns string, key []byte, st crdt.State) error {
	writers, ok := n.writers[ns]
	if !ok {
		return nil
	}
	reason := verifyState(writers, ns, key, st)
	if reason == "" || skipVerify {
		return nil
	}
	n.refused.WithLabelValues(ns, reason).Inc()
	return fmt.Errorf("%w: %w", ErrForbidden, errRefused{ns: ns, reason: reason})
}

// admitDeltas returns the deltas of ns that admit accepts (deltas itself
// when all are, or when ns has no writer list).
func (n *Node) admitDeltas(ns string, deltas []wire.Delta) []wire.Delta {
	if _, ok := n.writers[ns]; !ok {
		return deltas
	}
	kept := deltas[:0:0]
	for _, d := range deltas {
		if n.admit(ns, d.Key, d.State) == nil {
			kept = append(kept, d)
		}
	}
	return kept
}

// verifyState returns "" if st is validly signed by writers, else the
// reason it is not.
func verifyState(writers map[crdt.ReplicaID]ic.PubKey, ns string, key []byte, st crdt.State) string {
	switch s := st.(type) {
	case crdt.Register:
		return verifyOne(writers, s.Origin, crdt.AppendRegisterPayload(nil, ns, key, s), s.Sig)
	case crdt.Counter:
		if len(s.Resetters()) > 0 {
			return refusedUnsigned // resets carry no signature (see set.go)
		}
		var buf []byte
		for _, id := range s.Replicas() {
			slot := s.Slot(id)
			buf = crdt.AppendSlotPayload(buf[:0], ns, key, id, slot)
			if r := verifyOne(writers, id, buf, []byte(slot.Sig)); r != "" {
				return r
			}
		}
		return ""
	}
	return refusedUnsigned
}

func verifyOne(writers map[crdt.ReplicaID]ic.PubKey, origin crdt.ReplicaID, payload, sig []byte) string {
	if len(sig) == 0 {
		return refusedUnsigned
	}
	k, ok := writers[origin]
	if !ok {
		return refusedNotWriter
	}
	if ok, err := k.Verify(payload, sig); err != nil || !ok {
		return refusedBadSignature
	}
	return ""
}

// signer returns whether local writes to ns must be signed, or
// ErrForbidden if ns has a writer list without this peer.
func (n *Node) signer(ns string) (sign bool, err error) {
	writers, ok := n.writers[ns]
	if !ok {
		return false, nil
	}
	if _, ok := writers[n.self]; !ok {
		return false, fmt.Errorf("%w: this peer (%s) is not on the writer list of namespace %q", ErrForbidden, libp2ppeer.ID(n.self), ns)
	}
	return true, nil
}

// signRegister sets r.Sig to this peer's signature of r at (ns, key).
func (n *Node) signRegister(ns string, key []byte, r crdt.Register) (crdt.Register, error) {
	sig, err := n.key.Sign(crdt.AppendRegisterPayload(nil, ns, key, r))
	if err != nil {
		return r, fmt.Errorf("%w: signing: %w", ErrForbidden, err)
	}
	r.Sig = sig
	return r, nil
}

// slotSigner returns storage's Increment.Sign for this peer's slot of the
// counter at (ns, key).
func (n *Node) slotSigner(ns string, key []byte) func(crdt.Slot) (string, error) {
	return func(s crdt.Slot) (string, error) {
		sig, err := n.key.Sign(crdt.AppendSlotPayload(nil, ns, key, n.self, s))
		if err != nil {
			return "", fmt.Errorf("%w: signing: %w", ErrForbidden, err)
		}
		return string(sig), nil
	}
}
