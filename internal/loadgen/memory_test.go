package loadgen

import (
	"strings"
	"testing"
)

// TestParseMemory reads the two gauges from a client_golang exposition
// and refuses one that lacks them.
func TestParseMemory(t *testing.T) {
	body := []byte(`# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.53427968e+08
go_memstats_heap_inuse_bytes_total{x="y"} 7
process_resident_memory_bytes 4.2831872e+07
grapevine_process_resident_file_bytes 1.048576e+07
`)
	m, err := parseMemory(body)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 42831872 || m.Heap != 153427968 || m.RSSFile != 10485760 || m.anon() != 42831872-10485760 {
		t.Fatalf("parsed %+v", m)
	}
	if m, err := parseMemory([]byte("process_resident_memory_bytes 1\ngo_memstats_heap_inuse_bytes 1\n")); err != nil || m.RSSFile != 0 {
		t.Fatalf("without the file gauge: %+v, %v", m, err)
	}
	if _, err := parseMemory([]byte("process_resident_memory_bytes 1\n")); err == nil {
		t.Fatal("an exposition without the heap gauge parsed")
	}
	if _, err := parseMemory([]byte("process_resident_memory_bytes x\ngo_memstats_heap_inuse_bytes 1\n")); err == nil {
		t.Fatal("a malformed value parsed")
	}
}

// TestMemoryReportSplitsFiles: the report says how much of the resident
// set is mapped files when the daemon tells, and only then.
func TestMemoryReportSplitsFiles(t *testing.T) {
	r := MemoryReport{
		Before: MemorySample{RSS: 40 << 20, RSSFile: 10 << 20, Heap: 20 << 20},
		MaxRSS: 300 << 20, MaxAnon: 120 << 20,
		After: MemorySample{RSS: 290 << 20, RSSFile: 180 << 20, Heap: 90 << 20},
	}
	want := "RSS 40 MiB before, 300 MiB at most, 290 MiB after (of it mapped files 10 MiB before, 180 MiB after; the rest 120 MiB at most); Go heap in use 20 MiB before, 90 MiB after"
	if got := r.String(); !strings.HasPrefix(got, want) {
		t.Fatalf("report\n%s\nwant it to begin\n%s", got, want)
	}
	r.Before.RSSFile, r.After.RSSFile = 0, 0
	if got := r.String(); strings.Contains(got, "mapped") {
		t.Fatalf("report without the file gauge mentions mapped files: %s", got)
	}
}

// FuzzParseMemory: any body parses or fails, never panics, and a parse
// that succeeds found both gauges.
func FuzzParseMemory(f *testing.F) {
	f.Add([]byte("process_resident_memory_bytes 4.2e+07\ngo_memstats_heap_inuse_bytes 1\n"))
	f.Add([]byte("process_resident_memory_bytes NaN\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = parseMemory(body)
	})
}
