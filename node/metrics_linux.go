package node

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// osCollectors are the metrics only Linux can give: how much of the
// resident set is file-backed. Badger reads its tables through
// memory-mapped files, so their pages count in the process's RSS although
// they are page cache the kernel takes back under memory pressure;
// process_resident_memory_bytes minus this gauge is the peer's own memory.
func osCollectors() []prometheus.Collector {
	return []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "grapevine_process_resident_file_bytes",
		Help: "Resident memory backed by files (mostly Badger's memory-mapped tables): page cache the kernel reclaims under pressure. Included in process_resident_memory_bytes.",
	}, func() float64 {
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return 0
		}
		return float64(statusKiB(status, "RssFile:") << 10)
	})}
}

// statusKiB returns the value of a "Name:   123 kB" line of
// /proc/PID/status, 0 if absent.
func statusKiB(status []byte, name string) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(name))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		v, _ := strconv.ParseUint(string(fields[0]), 10, 64)
		return v
	}
	return 0
}
