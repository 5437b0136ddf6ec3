package gossip

import (
	"context"
	"errors"
	"fmt"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
)

// ErrTxnTooLarge is returned by PublishTxn for a transaction whose message
// would exceed PushConfig.MaxMessageBytes; nothing is published.
var ErrTxnTooLarge = errors.New("gossip: transaction too large for one message")

// PublishTxn sends the deltas of one atomic transaction of a namespace as
// ONE message marked wire.Batch.Txn, never split, so that a receiver can
// apply it all or nothing. It fails with ErrTxnTooLarge, publishing
// nothing, if that message would exceed MaxMessageBytes. The namespace
// must have been joined. It blocks while GossipSub takes the message; safe
// for concurrent use.
func (p *Push) PublishTxn(ctx context.Context, namespace string, deltas []wire.Delta) error {
	p.mu.Lock()
	topic, ok := p.mu.topics[namespace]
	closed := p.mu.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if !ok {
		return fmt.Errorf("gossip: namespace %q not joined", namespace)
	}
	msg := wire.AppendTxn(wire.AppendHeader(nil, namespace))
	for _, d := range deltas {
		msg = wire.AppendDelta(msg, d.Key, crdt.Encode(d.State))
	}
	if len(msg) > p.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTxnTooLarge, len(msg), p.cfg.MaxMessageBytes)
	}
	t := topic
	if ann := p.announceTopic(namespace); ann != nil {
		t = ann // a namespace's first message goes there; see announceTopic
	}
	if err := p.send(ctx, t, msg); err != nil {
		return err
	}
	if t != topic {
		p.markAnnounced(namespace)
	}
	return nil
}
