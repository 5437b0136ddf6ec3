package main

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// TestBenchEndToEnd runs `grapevine bench put --requests 300` from the
// binary against a real daemon: it reports exactly 300 puts, every one of
// them stored (the daemon's item count), the daemon's memory read from its
// /metrics, and no progress line when standard error is not a terminal;
// usage errors exit 2.
func TestBenchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	bin := buildBinary(t)
	d := startDaemon(t, bin, t.TempDir())
	out, errOut, code := d.cli("bench", "put", "--requests", "300", "--clients", "8", "-o", "json")
	if code != 0 {
		t.Fatalf("grapevine bench put: exit %d: %s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("bench wrote to a standard error that is not a terminal: %q", errOut)
	}
	var report struct {
		Rows []struct {
			Name   string
			Ops    uint64
			Errors uint64
		}
		Memory *struct {
			Before struct {
				RSS     uint64 `json:"rss_bytes"`
				RSSFile uint64 `json:"rss_file_bytes"`
			}
			MaxRSS uint64 `json:"max_rss_bytes"`
		} `json:"daemon_memory"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("bench -o json: %v\n%s", err, out)
	}
	if len(report.Rows) != 1 || report.Rows[0].Ops != 300 || report.Rows[0].Errors != 0 {
		t.Fatalf("bench put --requests 300 reported %+v: want one row with 300 puts and no errors", report.Rows)
	}
	if m := report.Memory; m == nil || m.Before.RSS == 0 || m.MaxRSS < m.Before.RSS {
		t.Fatalf("bench reported the daemon's memory as %+v: want a resident set, its maximum at least the first sample", m)
	}
	if m := report.Memory; runtime.GOOS == "linux" && (m.Before.RSSFile == 0 || m.Before.RSSFile > m.Before.RSS) {
		t.Fatalf("bench reported the daemon's file-backed memory as %d of %d resident bytes: want a part of it (its mapped binary and tables)", m.Before.RSSFile, m.Before.RSS)
	}
	var st apitype.Status
	if err := json.Unmarshal([]byte(d.mustCLI("status", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if items := st.Namespaces["default"].Items; items != report.Rows[0].Ops {
		t.Fatalf("bench reported %d puts, the daemon holds %d keys", report.Rows[0].Ops, items)
	}

	text := d.mustCLI("bench", "get", "--duration", "200ms", "--clients", "2")
	if !strings.Contains(text, "get, 2 clients (http ") || !strings.Contains(text, "p99") || !strings.Contains(text, "daemon memory: RSS ") {
		t.Errorf("bench get printed no table:\n%s", text)
	}
	for _, args := range [][]string{
		{"bench"}, {"bench", "scan"}, {"bench", "put", "--clients", "0"},
		{"bench", "get", "--baseline"}, {"bench", "put", "--cluster", "1"}, {"bench", "put", "--spread"},
	} {
		if _, errOut, code := d.cli(args...); code != 2 || !strings.Contains(errOut, "grapevine") {
			t.Errorf("grapevine %s: exit %d (%s), want a usage error (2)", strings.Join(args, " "), code, errOut)
		}
	}
}

// TestBenchCPUProfile: --cpuprofile writes a CPU profile of an embedded
// run (gzip-compressed protobuf, as go tool pprof reads it).
func TestBenchCPUProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	bin := buildBinary(t)
	prof := filepath.Join(t.TempDir(), "cpu.pb.gz")
	out, err := exec.Command(bin, "bench", "put", "--embedded", "--in-memory", "--requests", "2000", "--cpuprofile", prof).CombinedOutput()
	if err != nil {
		t.Fatalf("grapevine bench --cpuprofile: %v\n%s", err, out)
	}
	f, err := os.Open(prof)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the profile is not gzip-compressed: %v", err)
	}
	if b, err := io.ReadAll(zr); err != nil || len(b) == 0 {
		t.Fatalf("the profile holds %d bytes (%v), want a profile", len(b), err)
	}
	if _, err := exec.Command(bin, "bench", "put", "--embedded", "--in-memory", "--requests", "10", "--cpuprofile", filepath.Join(prof, "no", "such")).CombinedOutput(); err == nil {
		t.Error("bench --cpuprofile into a missing directory succeeded, want an error")
	}
}
