package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
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
		self, err := procfs.Self()
		if err != nil {
			return 0
		}
		status, err := self.NewStatus()
		if err != nil {
			return 0
		}
		return float64(status.RssFile)
	})}
}
