package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// ResetCounter resets the counter at key (observed-reset: increments the
// daemon had not seen survive). Resetting an absent counter is no error.
func (c *Client) ResetCounter(ctx context.Context, key string) error {
	resp, err := c.do(ctx, http.MethodDelete, kvPath("/v1/counter/", key), nil, nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// SetAdd adds members to the set at key.
func (c *Client) SetAdd(ctx context.Context, key string, members ...[]byte) error {
	return c.setOp(ctx, http.MethodPost, key, members)
}

// SetRemove removes members from the set at key (the adds the daemon has
// seen; a concurrent add elsewhere wins).
func (c *Client) SetRemove(ctx context.Context, key string, members ...[]byte) error {
	return c.setOp(ctx, http.MethodDelete, key, members)
}

func (c *Client) setOp(ctx context.Context, method, key string, members [][]byte) error {
	body, err := json.Marshal(apitype.SetMembers{Members: members})
	if err != nil {
		return fmt.Errorf("client: encoding members: %w", err)
	}
	resp, err := c.do(ctx, method, kvPath("/v1/set/", key), nil, body)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// SetMembers returns the members of the set at key, ascending (none for an
// absent set).
func (c *Client) SetMembers(ctx context.Context, key string) ([][]byte, error) {
	var out apitype.Set
	err := c.getJSON(ctx, http.MethodGet, kvPath("/v1/set/", key), nil, &out)
	return out.Members, err
}

// SetContains reports whether member is in the set at key.
func (c *Client) SetContains(ctx context.Context, key string, member []byte) (bool, error) {
	var out apitype.SetContains
	q := url.Values{"member": {base64.StdEncoding.EncodeToString(member)}}
	err := c.getJSON(ctx, http.MethodGet, kvPath("/v1/set/", key), q, &out)
	return out.Contains, err
}
