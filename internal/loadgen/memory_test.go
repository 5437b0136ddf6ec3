package loadgen

import "testing"

// TestParseMemory reads the two gauges from a client_golang exposition
// and refuses one that lacks them.
func TestParseMemory(t *testing.T) {
	body := []byte(`# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.53427968e+08
go_memstats_heap_inuse_bytes_total{x="y"} 7
process_resident_memory_bytes 4.2831872e+07
`)
	m, err := parseMemory(body)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 42831872 || m.Heap != 153427968 {
		t.Fatalf("parsed %+v", m)
	}
	if _, err := parseMemory([]byte("process_resident_memory_bytes 1\n")); err == nil {
		t.Fatal("an exposition without the heap gauge parsed")
	}
	if _, err := parseMemory([]byte("process_resident_memory_bytes x\ngo_memstats_heap_inuse_bytes 1\n")); err == nil {
		t.Fatal("a malformed value parsed")
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
