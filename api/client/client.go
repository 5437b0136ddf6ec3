// Package client is a typed Go client of grapevine's HTTP API. It imports
// only the standard library and api/apitype, so embedding it does not pull
// in the server, libp2p, Badger or Prometheus.
//
//	c, err := client.New([]string{"127.0.0.1:4100", "127.0.0.1:4200"}, "")
//	version, err := c.Put(ctx, "key", []byte("value"))
//	v, err := c.Get(ctx, "key") // errors.Is(err, apitype.ErrNotFound) if absent
//
// A daemon with API tokens and TLS takes WithToken and, for a certificate
// no system CA signed, WithCACert; a refused token answers errors matching
// apitype.ErrUnauthorized (401) or apitype.ErrForbidden (403):
//
//	c, err := client.New([]string{"https://db1:4100"}, "tenant-a", client.WithToken(tok), client.WithCACert(caPEM))
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// Client talks to grapevine daemons over HTTP. Given several endpoints it
// fails over between them (see failover.go for which requests, when):
// writes stick to the endpoint that last answered one, reads too unless
// WithBalance spreads them round-robin. Every attempt at one endpoint is
// bounded by the timeout (WithTimeout). Safe for concurrent use.
type Client struct {
	endpoints []string
	namespace string
	hc        *http.Client
	token     string         // sent as Authorization: Bearer (WithToken)
	roots     *x509.CertPool // trusted CAs for https endpoints (WithCACert)
	err       error          // an option's error, returned by New
	timeout   time.Duration  // bound of one attempt at one endpoint (WithTimeout)
	balance   bool           // spread reads round-robin (WithBalance)
	current   atomic.Int64   // index of the endpoint that last answered a write (or, unbalanced, any request)
	next      atomic.Uint64  // round-robin position of balanced reads
	downUntil []atomic.Int64 // per endpoint: tried last until this Unix time (ns), after a failure
}

// ErrUnreachable is returned when no endpoint answers.
var ErrUnreachable = errors.New("client: no grapevine daemon reachable")

// Option changes a Client that New builds.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc (its
// transport, connection pool and dial timeout) instead of a plain
// &http.Client{}. The caller keeps hc and may share it between clients.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithToken sends token with every request (Authorization: Bearer), for a
// daemon started with --api-token-file. Over plain http the token crosses
// the network in the clear: use https beyond loopback.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithCACert trusts the PEM certificates in pem (and no others) for https
// endpoints, e.g. the self-signed certificate a daemon serves with
// --api-tls-cert. It cannot be combined with WithHTTPClient: configure
// that client's transport instead.
func WithCACert(pem []byte) Option {
	return func(c *Client) {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			c.err = errors.Join(c.err, errors.New("client: the CA bundle holds no PEM certificate"))
			return
		}
		c.roots = pool
	}
}

// New returns a client for the given endpoints ("host:port",
// "http://host:port" or "https://host:port") using namespace ns ("" for
// the default).
func New(endpoints []string, ns string, opts ...Option) (*Client, error) {
	c := &Client{namespace: ns, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	if c.err != nil {
		return nil, c.err
	}
	switch {
	case c.roots != nil && c.hc != nil:
		return nil, errors.New("client: WithCACert and WithHTTPClient together: set the CA in your http.Client's transport")
	case c.roots != nil:
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.roots}
		c.hc = &http.Client{Transport: tr}
	case c.hc == nil:
		c.hc = &http.Client{}
	}
	for _, e := range endpoints {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if !strings.Contains(e, "://") {
			e = "http://" + e
		}
		u, err := url.Parse(e)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("client: bad endpoint %q: want host:port or https://host:port", e)
		}
		c.endpoints = append(c.endpoints, strings.TrimRight(u.String(), "/"))
	}
	if len(c.endpoints) == 0 {
		return nil, errors.New("client: no endpoint given")
	}
	c.downUntil = make([]atomic.Int64, len(c.endpoints))
	return c, nil
}

// do sends a request, failing over between endpoints as failover.go says;
// an answer of status 400 or more is returned as its *apitype.Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func decodeError(resp *http.Response) error {
	e := &apitype.Error{Status: resp.StatusCode}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(data, e) != nil || e.Code == "" {
		e.Code, e.Message = apitype.CodeInternal, fmt.Sprintf("unexpected response %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	return e
}

func (c *Client) getJSON(ctx context.Context, method, path string, q url.Values, out any) error {
	resp, err := c.do(ctx, method, path, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: decoding %s: %w", path, err)
	}
	return nil
}

func kvPath(prefix, key string) string { return prefix + url.PathEscape(key) }

// Put writes value at key and returns its version.
func (c *Client) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	resp, err := c.do(ctx, http.MethodPut, kvPath("/v1/kv/", key), nil, value)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	v, _ := strconv.ParseUint(resp.Header.Get(apitype.VersionHeader), 10, 64)
	return v, nil
}

// Get reads key; the error matches apitype.ErrNotFound if it is absent.
func (c *Client) Get(ctx context.Context, key string) (apitype.Value, error) {
	resp, err := c.do(ctx, http.MethodGet, kvPath("/v1/kv/", key), nil, nil)
	if err != nil {
		return apitype.Value{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return apitype.Value{}, fmt.Errorf("client: reading value: %w", err)
	}
	v, _ := strconv.ParseUint(resp.Header.Get(apitype.VersionHeader), 10, 64)
	return apitype.Value{Data: data, Version: v}, nil
}

// Delete removes key.
func (c *Client) Delete(ctx context.Context, key string) error {
	resp, err := c.do(ctx, http.MethodDelete, kvPath("/v1/kv/", key), nil, nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// ListOptions selects a page of a listing.
type ListOptions struct {
	Prefix, After string
	Limit         int
	KeysOnly      bool
}

// List returns one page of keys.
func (c *Client) List(ctx context.Context, opts ListOptions) (apitype.Page, error) {
	q := url.Values{}
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.After != "" {
		q.Set("after", opts.After)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.KeysOnly {
		q.Set("keys", "true")
	}
	var p apitype.Page
	return p, c.getJSON(ctx, http.MethodGet, "/v1/kv", q, &p)
}

// Incr adds by to the counter at key and returns its new value.
func (c *Client) Incr(ctx context.Context, key string, by int64) (int64, error) {
	var out apitype.Counter
	err := c.getJSON(ctx, http.MethodPost, kvPath("/v1/counter/", key), url.Values{"by": {strconv.FormatInt(by, 10)}}, &out)
	return out.Value, err
}

// Counter reads the counter at key.
func (c *Client) Counter(ctx context.Context, key string) (int64, error) {
	var out apitype.Counter
	err := c.getJSON(ctx, http.MethodGet, kvPath("/v1/counter/", key), nil, &out)
	return out.Value, err
}

// Peers lists the daemon's connected peers.
func (c *Client) Peers(ctx context.Context) ([]apitype.PeerInfo, error) {
	var out []apitype.PeerInfo
	return out, c.getJSON(ctx, http.MethodGet, "/v1/peers", nil, &out)
}

// Sync runs one anti-entropy round on the daemon with a random peer. It
// may take long (a bootstrap); bound it with ctx.
func (c *Client) Sync(ctx context.Context) (apitype.SyncResult, error) {
	var out apitype.SyncResult
	return out, c.getJSON(withoutTimeout(ctx), http.MethodPost, "/v1/sync", nil, &out)
}

// SyncWith runs one anti-entropy round on the daemon with the connected
// peer of ID peer (as Peers lists it). Bound it with ctx.
func (c *Client) SyncWith(ctx context.Context, peer string) (apitype.SyncResult, error) {
	var out apitype.SyncResult
	return out, c.getJSON(withoutTimeout(ctx), http.MethodPost, "/v1/sync", url.Values{"peer": {peer}}, &out)
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (apitype.Status, error) {
	var out apitype.Status
	return out, c.getJSON(ctx, http.MethodGet, "/v1/status", nil, &out)
}

// Metrics returns the daemon's Prometheus metrics, in the text exposition
// format, as GET /metrics serves them.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/metrics", nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: reading metrics: %w", err)
	}
	return data, nil
}
