package node

import (
	"errors"

	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/internal/wire"
)

// publishQueue bounds the committed batches waiting for gossip. Beyond it
// a batch is dropped and counted: its peers get it from anti-entropy.
const publishQueue = 256

// A publication is one committed batch's local changes of one namespace,
// for gossip; txn ones go as one message (gossip.Push.PublishTxn).
type publication struct {
	ns     string
	deltas []wire.Delta
	txn    bool
	// flushed, if set, is closed once everything queued before it has
	// been sent (FlushPublishForTest).
	flushed chan struct{}
}

// publish hands p to the publisher without waiting: the apply loop never
// blocks on the network. A full queue drops p and counts it.
func (n *Node) publish(p publication) {
	select {
	case n.pubq <- p:
	default:
		n.m.publishDropped.Inc()
	}
}

// publishLoop sends what the apply loop committed as gossip. It takes
// whatever is queued at once and merges the plain batches of a namespace,
// so a burst of small commits goes out as fewer, larger messages.
func (n *Node) publishLoop() {
	defer n.wg.Done()
	for {
		if gate := n.publishGate.Load(); gate != nil {
			select {
			case <-*gate:
			case <-n.ctx.Done():
				return
			}
		}
		var first publication
		select {
		case first = <-n.pubq:
		case <-n.ctx.Done():
			return
		}
		plain := map[string][]wire.Delta{}
		var order []string
		var flushed []chan struct{}
		add := func(p publication) {
			if p.flushed != nil {
				flushed = append(flushed, p.flushed)
				return
			}
			if p.txn {
				n.publishTxn(p.ns, p.deltas)
				return
			}
			if _, ok := plain[p.ns]; !ok {
				order = append(order, p.ns)
			}
			plain[p.ns] = append(plain[p.ns], p.deltas...)
		}
		add(first)
	drain:
		for range publishQueue {
			select {
			case p := <-n.pubq:
				add(p)
			default:
				break drain
			}
		}
		tooLarge := 0
		for _, ns := range order {
			skipped, err := n.push.Publish(n.ctx, ns, plain[ns])
			tooLarge += skipped
			if err != nil && !errors.Is(err, gossip.ErrClosed) && n.ctx.Err() == nil {
				n.log.Warn("gossip publish failed; anti-entropy will repair", "namespace", ns, "err", err)
			}
		}
		if tooLarge > 0 {
			n.pushByRounds()
		}
		for _, f := range flushed {
			close(f)
		}
	}
}

// publishTxn sends a transaction's changes as one gossip message.
func (n *Node) publishTxn(ns string, deltas []wire.Delta) {
	err := n.push.PublishTxn(n.ctx, ns, deltas)
	switch {
	case errors.Is(err, gossip.ErrTxnTooLarge):
		n.log.Warn("a transaction is too large for one gossip message; anti-entropy replicates it", "namespace", ns, "err", err)
		n.pushByRounds()
	case err != nil && !errors.Is(err, gossip.ErrClosed) && n.ctx.Err() == nil:
		n.log.Warn("gossip publish of a transaction failed; anti-entropy will repair", "namespace", ns, "err", err)
	}
}
