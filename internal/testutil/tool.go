package testutil

import (
	"os/exec"
	"testing"
)

// Tool returns the path of the external program name (redis-cli, chromium,
// protoc, ...) that a test drives. A missing program fails the test, never
// skips it: `make test-deps` (which `make test` runs) installs them.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("this test drives %s, which is not installed: run `make test-deps` (as root on Debian), or install it yourself", name)
	}
	return path
}
