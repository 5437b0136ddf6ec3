package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
)

// PutWith writes key (default namespace) under o: a condition, a TTL.
func (c *Client) PutWith(ctx context.Context, addr, key, value string, o client.WriteOptions) (uint64, error) {
	pc, err := c.peer(addr)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := pc.PutWith(ctx, key, []byte(value), o)
	if err == nil && v == 0 {
		return 0, fmt.Errorf("chaos: PUT answered without a valid %s header", apitype.VersionHeader)
	}
	return v, err
}

// Txn applies ops all or nothing on the peer at addr.
func (c *Client) Txn(ctx context.Context, addr string, ops []apitype.TxnOp) ([]apitype.TxnResult, error) {
	pc, err := c.peer(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return pc.Txn(ctx, ops)
}

// SetOp adds (add true) or removes member in the set at key.
func (c *Client) SetOp(ctx context.Context, addr, key, member string, add bool) error {
	pc, err := c.peer(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if add {
		return pc.SetAdd(ctx, key, []byte(member))
	}
	return pc.SetRemove(ctx, key, []byte(member))
}

// SetMembers reads the members of the set at key.
func (c *Client) SetMembers(ctx context.Context, addr, key string) ([]string, error) {
	pc, err := c.peer(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ms, err := pc.SetMembers(ctx, key)
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out, err
}

// wallMillis is the wall-clock time of d after start, in Unix milliseconds.
func wallMillis(start time.Time, d time.Duration) int64 { return start.Add(d).UnixMilli() }
