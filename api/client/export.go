package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// ExportOptions select what Export asks for.
type ExportOptions struct {
	// Namespaces to export when the client has no namespace of its own;
	// none: every namespace the peer holds.
	Namespaces []string
	Prefix     string // only keys with this prefix
	Tombstones bool   // include deleted and expired values, reset counters, empty sets
}

// Export is an export stream being received.
type Export struct {
	io.ReadCloser        // the export, in the format of the api package documentation; close it
	States        int64  // about how many states it holds; -1 if the peer did not say
	Peer          string // the exporting peer's ID
}

// Export asks the daemon for an export of its states (the client's
// namespace if it has one) and returns the stream, which the caller reads
// and closes. It is not bounded by DefaultTimeout: ctx bounds it.
func (c *Client) Export(ctx context.Context, opts ExportOptions) (*Export, error) {
	q := url.Values{}
	if len(opts.Namespaces) > 0 {
		q.Set("ns", strings.Join(opts.Namespaces, ","))
	}
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.Tombstones {
		q.Set("tombstones", "true")
	}
	resp, err := c.do(withoutTimeout(ctx), http.MethodGet, "/v1/export", q, nil)
	if err != nil {
		return nil, err
	}
	ex := &Export{ReadCloser: resp.Body, States: -1, Peer: resp.Header.Get(apitype.PeerHeader)}
	if n, err := strconv.ParseInt(resp.Header.Get(apitype.ExportStatesHeader), 10, 64); err == nil {
		ex.States = n
	}
	return ex, nil
}

// Import sends the export read from r to the daemon, which merges it as
// states from a peer. The body is streamed, so a failed daemon is not
// retried on another endpoint (r cannot be read twice): the request goes
// to the endpoint that answered last. It is not bounded by DefaultTimeout.
func (c *Client) Import(ctx context.Context, r io.Reader) (apitype.ImportResult, error) {
	var out apitype.ImportResult
	resp, err := c.stream(ctx, http.MethodPost, "/v1/import", r)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return out, decodeError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, fmt.Errorf("client: decoding /v1/import: %w", err)
	}
	return out, nil
}

// Backup asks the daemon for a backup of its whole database and returns
// the stream (Badger's backup format), which the caller reads and closes,
// and the peer's ID. It is not bounded by DefaultTimeout.
func (c *Client) Backup(ctx context.Context) (io.ReadCloser, string, error) {
	resp, err := c.do(withoutTimeout(ctx), http.MethodGet, "/v1/backup", nil, nil)
	if err != nil {
		return nil, "", err
	}
	return resp.Body, resp.Header.Get(apitype.PeerHeader), nil
}

// stream sends body to the endpoint that answered last, without failover.
func (c *Client) stream(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	ep := c.endpoints[int(c.current.Load())%len(c.endpoints)]
	req, err := http.NewRequestWithContext(ctx, method, ep+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", apitype.ExportContentType)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if dialFailed(err) {
			return nil, fmt.Errorf("%w (tried %s): %w", ErrUnreachable, ep, err)
		}
		return nil, fmt.Errorf("client: %s: %w", ep, err)
	}
	return resp, nil
}
