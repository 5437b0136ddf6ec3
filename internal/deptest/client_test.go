package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientIsLight: a program that embeds the Go client (api/client) or
// only the API's types (api/apitype) pulls in no server: no libp2p, no
// Badger, no Prometheus, no project package but apitype, nothing outside
// the standard library.
func TestClientIsLight(t *testing.T) {
	forbidden := []string{"github.com/libp2p/", "github.com/dgraph-io/", "github.com/prometheus/"}
	allowed := map[string]bool{module + "/api/apitype": true, module + "/api/client": true}
	for _, p := range []string{module + "/api/apitype", module + "/api/client"} {
		out, err := exec.Command("go", "list", "-deps", p).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", p, dep)
				}
			}
			switch {
			case strings.HasPrefix(dep, module+"/") && !allowed[dep]:
				t.Errorf("%s depends on the project package %s", p, dep)
			case !isStd(dep) && !allowed[dep]:
				t.Errorf("%s depends on %s: the client uses the standard library only", p, dep)
			}
			if dep == module+"/api/client" && p != dep {
				t.Errorf("%s depends on %s", p, dep)
			}
		}
	}
}

// TestGRPCStubsAreLight: a gRPC client in Go imports api/grpcapi/kvpb, the
// generated stubs; they pull in no server (no project package, no libp2p,
// Badger or Prometheus), only gRPC and protobuf.
func TestGRPCStubsAreLight(t *testing.T) {
	p := module + "/api/grpcapi/kvpb"
	out, err := exec.Command("go", "list", "-deps", p).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", p, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, module+"/") && dep != p:
			t.Errorf("%s depends on the project package %s", p, dep)
		case strings.HasPrefix(dep, "github.com/libp2p/"), strings.HasPrefix(dep, "github.com/dgraph-io/"), strings.HasPrefix(dep, "github.com/prometheus/"):
			t.Errorf("%s depends on %s", p, dep)
		}
	}
}
