package main

import (
	"bufio"
	"bytes"
	"log/slog"
	"math"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of a memory cgroup's limit given to Go as
// its soft limit: the rest is for what Go does not count (mapped table
// pages, the kernel's page cache of the data directory).
const memoryLimitShare = 0.9

// setSoftMemoryLimit gives Go a soft memory limit of memoryLimitShare of
// the memory cgroup's limit, when the daemon runs in a limited cgroup and
// GOMEMLIMIT is not set: the garbage collector then works harder as the
// heap nears the limit, instead of letting it grow to twice the live heap
// and past the limit, where the kernel kills the peer. Prometheus does the
// same (--auto-gomemlimit).
func setSoftMemoryLimit(log *slog.Logger) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	procCgroup, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return
	}
	limit, ok := cgroupMemoryLimit(procCgroup, os.ReadFile)
	if !ok {
		return
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	log.Info("Go's soft memory limit set from the memory cgroup's (set GOMEMLIMIT to choose another)",
		"limit_mib", soft>>20, "cgroup_limit_mib", limit>>20)
}

// cgroupMemoryLimit returns the memory limit in force for the process
// whose /proc/PID/cgroup is procCgroup: the smallest limit of its memory
// cgroup and its ancestors, in cgroup v1 and v2, read through read. ok is
// false when none is limited.
func cgroupMemoryLimit(procCgroup []byte, read func(string) ([]byte, error)) (limit int64, ok bool) {
	v1, hasV1, v2, hasV2 := memoryCgroups(procCgroup)
	limit = math.MaxInt64
	lower := func(file string, unlimited func(string) bool) {
		b, err := read(file)
		if err != nil {
			return
		}
		s := strings.TrimSpace(string(b))
		if unlimited(s) {
			return
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < limit {
			limit, ok = n, true
		}
	}
	// v1 reports "no limit" as the largest page-aligned int64; v2 as "max".
	noV1 := func(s string) bool { n, err := strconv.ParseUint(s, 10, 64); return err == nil && n >= 1<<62 }
	noV2 := func(s string) bool { return s == "max" }
	for _, dir := range ancestors(v1, hasV1) {
		lower(path.Join("/sys/fs/cgroup/memory", dir, "memory.limit_in_bytes"), noV1)
	}
	for _, dir := range ancestors(v2, hasV2) {
		lower(path.Join("/sys/fs/cgroup", dir, "memory.max"), noV2)
	}
	return limit, ok
}

// memoryCgroups returns the process's memory cgroup in the v1 hierarchy
// and its cgroup in the v2 one, each if present, from its /proc/PID/cgroup.
func memoryCgroups(procCgroup []byte) (v1 string, hasV1 bool, v2 string, hasV2 bool) {
	sc := bufio.NewScanner(bytes.NewReader(procCgroup))
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 3)
		switch {
		case len(fields) != 3:
		case fields[0] == "0" && fields[1] == "":
			v2, hasV2 = fields[2], true
		case hasController(fields[1], "memory"):
			v1, hasV1 = fields[2], true
		}
	}
	return v1, hasV1, v2, hasV2
}

// hasController reports whether a /proc/PID/cgroup controller list (e.g.
// "cpu,cpuacct") names c.
func hasController(list, c string) bool {
	for name := range strings.SplitSeq(list, ",") {
		if name == c {
			return true
		}
	}
	return false
}

// ancestors lists dir and every directory above it, up to "/".
func ancestors(dir string, present bool) []string {
	if !present {
		return nil
	}
	var dirs []string
	for dir = path.Clean("/" + dir); ; dir = path.Dir(dir) {
		dirs = append(dirs, dir)
		if dir == "/" {
			return dirs
		}
	}
}
