package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// WriteOptions make a put or delete conditional, or give a put a TTL. A
// condition that does not hold fails with an *apitype.Error matching
// apitype.ErrPrecondition whose Version is the key's current version (0:
// absent); nothing changes.
type WriteOptions struct {
	IfVersion uint64        // only if the key is at this version
	IfAbsent  bool          // only if the key is absent (never written, deleted or expired)
	TTL       time.Duration // put only: expire this long after the write; 0: never
}

// query is o as the API's query parameters (cas=, ttl=).
func (o WriteOptions) query() url.Values {
	q := url.Values{}
	switch {
	case o.IfAbsent:
		q.Set("cas", "0")
	case o.IfVersion != 0:
		q.Set("cas", strconv.FormatUint(o.IfVersion, 10))
	}
	if o.TTL != 0 {
		q.Set("ttl", o.TTL.String())
	}
	return q
}

// check refuses options the API cannot express.
func (o WriteOptions) check() error {
	if o.IfAbsent && o.IfVersion != 0 {
		return fmt.Errorf("client: a write takes one condition: IfVersion or IfAbsent, not both")
	}
	return nil
}

// PutWith sets key to value under o and returns the write's version.
func (c *Client) PutWith(ctx context.Context, key string, value []byte, o WriteOptions) (uint64, error) {
	if err := o.check(); err != nil {
		return 0, err
	}
	resp, err := c.do(ctx, http.MethodPut, kvPath("/v1/kv/", key), o.query(), value)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	v, _ := strconv.ParseUint(resp.Header.Get(apitype.VersionHeader), 10, 64)
	return v, nil
}

// DeleteWith deletes key under o's condition (o.TTL must be 0).
func (c *Client) DeleteWith(ctx context.Context, key string, o WriteOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodDelete, kvPath("/v1/kv/", key), o.query(), nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Txn applies ops all or nothing on the peer (POST /v1/txn) and returns
// one result per op. A failed condition matches apitype.ErrPrecondition;
// too many ops or bytes, apitype.ErrTxnTooLarge.
func (c *Client) Txn(ctx context.Context, ops []apitype.TxnOp) ([]apitype.TxnResult, error) {
	body, err := json.Marshal(apitype.TxnRequest{Ops: ops})
	if err != nil {
		return nil, fmt.Errorf("client: encoding the transaction: %w", err)
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/txn", nil, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out apitype.TxnResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("client: decoding /v1/txn: %w", err)
	}
	return out.Results, nil
}
