package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/procfs"

	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// TestDaemonTakesItsCgroupMemoryLimit: a daemon started in a memory cgroup
// of 300 MiB runs with Go's soft limit at 90% of it, says so in its log and
// shows it in /metrics; GOMEMLIMIT set by the operator wins. Needs root and
// a writable memory cgroup (v1 or v2); skipped elsewhere.
func TestDaemonTakesItsCgroupMemoryLimit(t *testing.T) {
	const limit = 300 << 20
	cg := memoryCgroup(t, limit)
	bin := buildBinary(t)
	for _, tc := range []struct {
		name string
		env  []string // env(1)'s arguments before the command
		want int64
	}{
		{"from the cgroup", []string{"-u", "GOMEMLIMIT"}, limit * 9 / 10},
		{"GOMEMLIMIT wins", []string{"GOMEMLIMIT=500MiB"}, 500 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			// The shell joins the cgroup, then becomes the daemon.
			args := append([]string{"-c", `echo $$ >"$0/cgroup.procs" && exec env "$@"`, cg}, tc.env...)
			args = append(args, bin, "daemon", "--data", data, "--api", "127.0.0.1:0",
				"--listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false", "--network", "e2e")
			d := startDaemonArgs(t, "/bin/sh", data, args...)
			var got string
			testutil.Eventually(t, "go_gc_gomemlimit_bytes in /metrics", func() bool {
				got = d.metric("go_gc_gomemlimit_bytes")
				return got != ""
			})
			if f, err := strconv.ParseFloat(got, 64); err != nil || int64(f) != tc.want {
				t.Fatalf("go_gc_gomemlimit_bytes = %s, want %d\n%s", got, tc.want, d.logText())
			}
			said := strings.Contains(d.logText(), "soft memory limit set from the memory cgroup")
			if wantSaid := tc.want == limit*9/10; said != wantSaid {
				t.Fatalf("the log says the limit came from the cgroup: %v, want %v\n%s", said, wantSaid, d.logText())
			}
		})
	}
}

// memoryCgroup makes a memory cgroup of limit bytes below the test's own
// (cgroup v1, else v2), removed when the test ends; it skips the test if
// it cannot.
func memoryCgroup(t *testing.T, limit int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a memory cgroup needs root")
	}
	self, err := procfs.Self()
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	cgroups, err := self.Cgroups()
	if err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	var v1, v2 string
	var hasV1, hasV2 bool
	for _, c := range cgroups {
		switch {
		case c.HierarchyID == 0 && len(c.Controllers) == 0:
			v2, hasV2 = c.Path, true
		case slices.Contains(c.Controllers, "memory"):
			v1, hasV1 = c.Path, true
		}
	}
	name := fmt.Sprintf("grapevine-test-%d", os.Getpid())
	try := func(dir, file string) string {
		cg := filepath.Join(dir, name)
		if err := os.Mkdir(cg, 0o755); err != nil {
			return ""
		}
		if err := os.WriteFile(filepath.Join(cg, file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
			_ = os.Remove(cg)
			return ""
		}
		// Removed once every process in it is gone: the daemons' cleanups
		// (registered later) run first.
		t.Cleanup(func() {
			if err := os.Remove(cg); err != nil {
				t.Errorf("removing the test's cgroup: %v", err)
			}
		})
		return cg
	}
	if hasV1 {
		if cg := try(filepath.Join("/sys/fs/cgroup/memory", v1), "memory.limit_in_bytes"); cg != "" {
			return cg
		}
	}
	if hasV2 {
		if cg := try(filepath.Join("/sys/fs/cgroup", v2), "memory.max"); cg != "" {
			return cg
		}
	}
	t.Skip("no writable memory cgroup here")
	return ""
}
