package main

import (
	"bytes"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/node/nodetest"

	"github.com/grapevine-kv/grapevine/api"
)

const fuzzMaxValue = 4096

// inProcessAPI serves an in-memory node's API on loopback for the CLI.
func inProcessAPI(tb testing.TB) string {
	tb.Helper()
	cfg := nodetest.Config(tb)
	cfg.MaxValueSize = fuzzMaxValue
	n := nodetest.Start(tb, cfg)
	srv := httptest.NewServer(api.NewServer(n, fuzzMaxValue, cfg.Logger))
	tb.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func runCLI(addr, stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	args = append([]string{"grapevine", args[0], "--api", addr, "--"}, args[1:]...)
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// FuzzCLIPutGet: `grapevine put KEY VALUE` stores VALUE byte for byte (VALUE
// "-" reads standard input) and `get KEY` prints it back; an invalid key or
// value fails with a message and a non-zero status; nothing panics.
func FuzzCLIPutGet(f *testing.F) {
	addr := inProcessAPI(f)
	for _, s := range [][2]string{
		{"k", "v"}, {"k", "-"}, {"a/b", ""}, {"-k", "--v"}, {"é", "\xff\xfe"},
		{"", "v"}, {"a\x01", "v"}, {"k", strings.Repeat("v", fuzzMaxValue+1)}, {"../x", "y\nz"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		const stdin = "from standard input"
		_, errOut, code := runCLI(addr, stdin, "put", key, value)
		want := value
		if value == "-" {
			want = stdin
		}
		valid := apitype.ValidKey(key) == nil && len(want) <= fuzzMaxValue
		switch {
		case code != 0 && valid:
			t.Fatalf("put %q (%d bytes): exit %d: %s", key, len(want), code, errOut)
		case code == 0 && !valid:
			t.Fatalf("put of invalid key %q or %d-byte value succeeded", key, len(want))
		case code != 0 && errOut == "":
			t.Fatalf("put %q failed with exit %d and no message", key, code)
		case code != 0:
			return
		}
		out, errOut, code := runCLI(addr, "", "get", key)
		if code != 0 || out != want {
			t.Fatalf("get %q: exit %d %q, stdout %q, want %q", key, code, errOut, out, want)
		}
	})
}

// FuzzCLIIncr: `grapevine incr KEY N` accepts exactly the whole numbers
// strconv.ParseInt does (exit 2 with a message otherwise) and prints the new
// value.
func FuzzCLIIncr(f *testing.F) {
	addr := inProcessAPI(f)
	for _, n := range []string{"1", "-5", "0", "abc", "", "+3", "9223372036854775807", "99999999999999999999", "1.5", " 2", "0x1"} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n string) {
		before, _, code := runCLI(addr, "", "incr", "fuzz-counter", "0")
		if code != 0 {
			t.Fatalf("incr 0: exit %d", code)
		}
		out, errOut, code := runCLI(addr, "", "incr", "fuzz-counter", n)
		by, perr := strconv.ParseInt(n, 10, 64)
		switch {
		case perr != nil && code != 2:
			t.Fatalf("incr %q: exit %d, want 2 (not a whole number)", n, code)
		case perr != nil && errOut == "":
			t.Fatalf("incr %q: no message", n)
		case perr != nil:
			return
		case code == 1 && strings.Contains(errOut, "overflow"):
			return // the counter would overflow: refused
		case code != 0:
			t.Fatalf("incr %q: exit %d: %s", n, code, errOut)
		}
		b, _ := strconv.ParseInt(strings.TrimSpace(before), 10, 64)
		if got := strings.TrimSpace(out); got != strconv.FormatInt(b+by, 10) {
			t.Fatalf("incr %q after %d printed %q, want %d", n, b, got, b+by)
		}
	})
}
