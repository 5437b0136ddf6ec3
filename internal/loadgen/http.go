package loadgen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
)

// HTTPTarget drives a daemon over its HTTP API with the Go client
// (api/client), every worker on a keep-alive connection of its own.
type HTTPTarget struct {
	cl *client.Client
	hc *http.Client
}

// HTTPOptions configures an HTTPTarget.
type HTTPOptions struct {
	// Endpoints are the daemon's API addresses, as client.New takes them.
	Endpoints []string
	// Namespace of the keys; "" for the default.
	Namespace string
	// Conns is how many connections stay open: give the number of
	// workers. Default 1.
	Conns int
	// Token is the API token of a daemon started with --api-token-file.
	Token string
	// CACert is a PEM bundle to trust for an https endpoint; nil: the
	// system's.
	CACert []byte
}

// NewHTTPTarget returns a Target for a daemon over HTTP. Close it when
// done.
func NewHTTPTarget(o HTTPOptions) (*HTTPTarget, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The default keeps 2 idle connections per host: the other workers
	// would open a new connection for each request.
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 0, max(o.Conns, 1)
	tr.IdleConnTimeout = time.Minute
	if o.CACert != nil {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(o.CACert) {
			return nil, errors.New("loadgen: the CA bundle holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	}
	hc := &http.Client{Transport: tr}
	opts := []client.Option{client.WithHTTPClient(hc)}
	if o.Token != "" {
		opts = append(opts, client.WithToken(o.Token))
	}
	cl, err := client.New(o.Endpoints, o.Namespace, opts...)
	if err != nil {
		return nil, err
	}
	return &HTTPTarget{cl: cl, hc: hc}, nil
}

// Put is an HTTP PUT of the key.
func (t *HTTPTarget) Put(ctx context.Context, key, value []byte) error {
	_, err := t.cl.Put(ctx, string(key), value)
	return err
}

// Get is an HTTP GET of the key; a 404 is found == false.
func (t *HTTPTarget) Get(ctx context.Context, key []byte) (bool, error) {
	_, err := t.cl.Get(ctx, string(key))
	if errors.Is(err, apitype.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Client returns the API client the target uses (for a status read after
// a run).
func (t *HTTPTarget) Client() *client.Client { return t.cl }

// Metrics returns the daemon's /metrics, from which a run reads its
// memory.
func (t *HTTPTarget) Metrics(ctx context.Context) ([]byte, error) { return t.cl.Metrics(ctx) }

// Close closes the idle connections.
func (t *HTTPTarget) Close() { t.hc.CloseIdleConnections() }
