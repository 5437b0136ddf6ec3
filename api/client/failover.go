package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Failover. Each attempt at one endpoint is bounded by the client's
// timeout. What happens when an attempt fails depends on the request:
//
//   - reads (GET) and idempotent writes — put and delete without a
//     condition, set add and remove, counter reset — are tried at the next
//     endpoint when the attempt fails in any way short of an answer below
//     500: a dial error, a timeout, a broken connection, a 5xx. Sending
//     such a write twice leaves the key as sending it once (a put sets the
//     same value, a delete deletes), so it is safe even if the first
//     daemon applied it before it hung.
//   - other writes — incr, transactions, conditional writes, sync — are
//     tried elsewhere only when the daemon certainly never received them
//     (a dial error). An increment that timed out may have been applied:
//     sending it again could count it twice. A conditional write that was
//     applied and then re-sent would fail its own condition and report a
//     success as a failure.
//   - a watch's stream fails over on dial errors; its own loop (watch.go)
//     reconnects after anything else.
//
// Writes go to the endpoint that last answered one, and stay there until
// it fails; so do reads, unless WithBalance spreads them round-robin. An
// endpoint that failed is tried last for the next downFor.

// ErrTimeout matches the error of a request that was not retried at
// another endpoint after an attempt ran out of time.
var ErrTimeout = errors.New("client: no answer in time")

// downFor is how long an endpoint that failed is tried after the others.
const downFor = 30 * time.Second

// WithTimeout bounds each attempt of a request at one endpoint (and the
// reading of its answer) to d, instead of DefaultTimeout; 0 leaves only
// the caller's context. Sync and Watch's stream are never bounded by it.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithBalance spreads reads round-robin over the endpoints instead of
// sending them where writes go. Reads may then see another peer's state
// than the one the last write went to, until replication catches up.
func WithBalance() Option { return func(c *Client) { c.balance = true } }

// kind says what may be retried at another endpoint.
type kind int

const (
	kindRead       kind = iota // retried after any failure below an answer < 500
	kindIdempotent             // likewise
	kindOnce                   // retried only after a dial error
	kindStream                 // the watch: dial errors only, never balanced
)

// kindOf classifies a request by its method, path and query.
func kindOf(method, path string, q url.Values) kind {
	switch {
	case path == "/v1/watch":
		return kindStream
	case method == http.MethodGet || method == http.MethodHead:
		return kindRead
	case q.Has("cas"):
		return kindOnce
	case strings.HasPrefix(path, "/v1/kv/") && (method == http.MethodPut || method == http.MethodDelete),
		strings.HasPrefix(path, "/v1/set/") && (method == http.MethodPost || method == http.MethodDelete),
		strings.HasPrefix(path, "/v1/counter/") && method == http.MethodDelete:
		return kindIdempotent
	}
	return kindOnce
}

// retries reports whether a request of kind k is retried after a failure
// that may have reached the daemon.
func (k kind) retries() bool { return k == kindRead || k == kindIdempotent }

// order returns the endpoint indexes to try, in order: from the sticky
// endpoint (or the round-robin one), with endpoints that failed lately
// last.
func (c *Client) order(k kind) []int {
	n := len(c.endpoints)
	start := int(c.current.Load())
	if k == kindRead && c.balance {
		start = int(c.next.Add(1)-1) % n
	}
	now := time.Now().UnixNano()
	var up, down []int
	for i := range n {
		idx := (start + i) % n
		if c.downUntil[idx].Load() > now {
			down = append(down, idx)
		} else {
			up = append(up, idx)
		}
	}
	return append(up, down...)
}

// send sends a request and returns the first answer it may keep (any
// answer below 500, or a 5xx that is not retried or from the last
// endpoint), failing over between endpoints as the comment above says.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	k := kindOf(method, path, q)
	if c.namespace != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("ns", c.namespace)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	bounded := c.timeout > 0 && ctx.Value(noTimeout{}) == nil
	order := c.order(k)
	var errs []error
	for i, idx := range order {
		last := i == len(order)-1
		ep := c.endpoints[idx]
		actx, cancel := ctx, context.CancelFunc(func() {})
		if bounded {
			actx, cancel = context.WithTimeout(ctx, c.timeout)
		}
		req, err := http.NewRequestWithContext(actx, method, ep+path, bytes.NewReader(body))
		if err != nil {
			cancel()
			return nil, err
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.hc.Do(req)
		if err == nil && (resp.StatusCode < 500 || !k.retries() || last) {
			if resp.StatusCode < 500 && !(k == kindRead && c.balance) {
				c.current.Store(int64(idx))
			}
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		c.downUntil[idx].Store(time.Now().Add(downFor).UnixNano())
		switch {
		case err == nil: // a 5xx, retried
			errs = append(errs, fmt.Errorf("%s: %w", ep, decodeError(resp)))
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		case ctx.Err() != nil:
			cancel()
			return nil, fmt.Errorf("client: %s: %w", ep, err)
		case dialFailed(err) || k.retries():
			errs = append(errs, fmt.Errorf("%s: %w", ep, attemptError(actx, err, c.timeout)))
		case actx.Err() != nil:
			cancel()
			return nil, fmt.Errorf("%w: %s did not answer within %s; the request may have been applied, so it was not sent to another endpoint: %w", ErrTimeout, ep, c.timeout, err)
		default:
			cancel()
			return nil, fmt.Errorf("client: %s: %w", ep, err)
		}
		cancel()
	}
	return nil, fmt.Errorf("%w (tried %s): %w", ErrUnreachable, strings.Join(c.endpoints, ", "), errors.Join(errs...))
}

// attemptError says why an attempt failed, in words for a timeout.
func attemptError(actx context.Context, err error, timeout time.Duration) error {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", timeout, ErrTimeout)
	}
	return err
}

// dialFailed reports whether err means the request never reached a
// daemon, so another endpoint may be tried whatever the request.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// DefaultTimeout bounds one attempt of a request at one endpoint (all but
// Sync, which may run as long as a bootstrap takes, and Watch's stream):
// long enough for a large value over a slow link, short enough that a hung
// daemon is given up on, and another tried, before a person gives up.
const DefaultTimeout = 5 * time.Second

// noTimeout marks a context whose requests the timeout must not bound.
type noTimeout struct{}

func withoutTimeout(ctx context.Context) context.Context {
	return context.WithValue(ctx, noTimeout{}, true)
}
