package grpcapi

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// TestHealth: the health service says SERVING for the server and for
// grapevine.v1.KV while Serve runs, and a health watcher is told
// NOT_SERVING when the shutdown begins.
func TestHealth(t *testing.T) {
	s := newServed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := healthpb.NewHealthClient(s.conn)
	for _, svc := range []string{"", "grapevine.v1.KV"} {
		r, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q): %v, %v; want SERVING", svc, r, err)
		}
	}
	w, err := h.Watch(ctx, &healthpb.HealthCheckRequest{Service: "grapevine.v1.KV"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v, %v; want SERVING", r, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.stop() }()
	if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Watch during the shutdown: %v, %v; want NOT_SERVING", r, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestReflection: server reflection lists KV, health and reflection.
func TestReflection(t *testing.T) {
	s := newServed(t)
	got := listServices(t, s.conn)
	for _, want := range []string{"grapevine.v1.KV", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(got, want) {
			t.Errorf("reflection lists %q, without %s", got, want)
		}
	}
}

// listServices asks conn's server reflection for its services.
func listServices(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := st.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	var out []string
	for _, s := range r.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	return out
}
