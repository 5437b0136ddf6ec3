package grpcapi

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testutil.LeakOptions()...)
}

// testMaxValue is the value limit of the test servers.
const testMaxValue = 64 << 10

// served is a Server on a real TCP listener on 127.0.0.1 and a client
// connection to it.
type served struct {
	node *node.Node
	srv  *Server
	conn *grpc.ClientConn
	kv   kvpb.KVClient
	stop func() error // cancels Serve and returns its error
}

// serve serves n on 127.0.0.1:0 with tokens (nil: none) until the test
// ends, and dials it.
func serve(t *testing.T, n *node.Node, tokens *api.Tokens) *served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(n, Config{MaxValueSize: testMaxValue, Tokens: tokens, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stopped := false
	var serveErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			serveErr = <-done
		}
		return serveErr
	}
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &served{node: n, srv: srv, conn: conn, kv: kvpb.NewKVClient(conn), stop: stop}
}

// newServed serves a fresh test node (value limit testMaxValue) without
// tokens.
func newServed(t *testing.T) *served {
	t.Helper()
	return serve(t, newNode(t), nil)
}

// newNode starts a test node whose value limit is testMaxValue.
func newNode(t *testing.T) *node.Node {
	t.Helper()
	cfg := nodetest.Config(t)
	cfg.MaxValueSize = testMaxValue
	return nodetest.Start(t, cfg)
}

// tokenFile writes a token file with lines and loads it.
func tokenFile(t *testing.T, lines string) *api.Tokens {
	t.Helper()
	f := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(f, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := api.LoadTokens(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantCode fails unless err is a status of code whose ErrorInfo has
// reason (when not ""); it returns the ErrorInfo's metadata.
func wantCode(t *testing.T, what string, err error, code codes.Code, reason string) map[string]string {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Errorf("%s: %v, want %v", what, err, code)
		return nil
	}
	if st.Message() == "" {
		t.Errorf("%s: %v has no message", what, code)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if reason != "" && (info.GetReason() != reason || info.GetDomain() != ErrorDomain) {
				t.Errorf("%s: ErrorInfo %s/%s, want %s/%s", what, info.GetDomain(), info.GetReason(), ErrorDomain, reason)
			}
			return info.GetMetadata()
		}
	}
	if reason != "" {
		t.Errorf("%s: %v without an ErrorInfo detail", what, err)
	}
	return nil
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
