package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// memoryLimitShare is the part of a memory cgroup's limit given to Go as
// its soft limit: the rest is for what Go does not count (mapped table
// pages, the kernel's page cache of the data directory).
const memoryLimitShare = 0.9

// setSoftMemoryLimit gives Go a soft memory limit of memoryLimitShare of
// the memory cgroup's limit, when the daemon runs in a limited cgroup and
// GOMEMLIMIT is not set: the garbage collector then works harder as the
// heap nears the limit, instead of letting it grow to twice the live heap
// and past the limit, where the kernel kills the peer. The limit is read
// as Prometheus's --auto-gomemlimit reads it (automemlimit: cgroup v1 or
// v2, wherever mounted, the smallest limit of the cgroup and its
// ancestors).
func setSoftMemoryLimit(log *slog.Logger) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	limit, err := memlimit.FromCgroup()
	if err != nil {
		return // not in a limited memory cgroup (or not on Linux)
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	log.Info("Go's soft memory limit set from the memory cgroup's (set GOMEMLIMIT to choose another)",
		"limit_mib", soft>>20, "cgroup_limit_mib", limit>>20)
}
