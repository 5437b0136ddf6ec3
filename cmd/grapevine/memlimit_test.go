package main

import (
	"io/fs"
	"testing"
)

// TestCgroupMemoryLimit finds the smallest limit among the process's
// memory cgroup and its ancestors, in cgroup v1, v2 and a hybrid of both,
// and none where nothing is limited.
func TestCgroupMemoryLimit(t *testing.T) {
	files := map[string]string{
		"/sys/fs/cgroup/memory/memory.limit_in_bytes":                "9223372036854771712",
		"/sys/fs/cgroup/memory/svc/memory.limit_in_bytes":            "1073741824",
		"/sys/fs/cgroup/memory/svc/bench/memory.limit_in_bytes":      "314572800\n",
		"/sys/fs/cgroup/memory/unlimited/memory.limit_in_bytes":      "9223372036854771712",
		"/sys/fs/cgroup/memory/unlimited/peer/memory.limit_in_bytes": "9223372036854771712",
		"/sys/fs/cgroup/memory.max":                                  "max",
		"/sys/fs/cgroup/pod/memory.max":                              "209715200\n",
		"/sys/fs/cgroup/pod/peer/memory.max":                         "max\n",
	}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
	for _, tc := range []struct {
		name, procCgroup string
		want             int64
		ok               bool
	}{
		{"v1", "7:cpu,cpuacct:/\n4:memory:/svc/bench\n0::/\n", 314572800, true},
		{"v1 parent", "4:memory:/svc\n", 1073741824, true},
		{"v1 none", "4:memory:/unlimited/peer\n", 0, false},
		{"v2 parent", "0::/pod/peer\n", 209715200, true},
		{"hybrid", "4:memory:/svc/bench\n0::/pod/peer\n", 209715200, true},
		{"no cgroups", "", 0, false},
		{"garbage", "memory\n::::\n4:memory\n", 0, false},
	} {
		got, ok := cgroupMemoryLimit([]byte(tc.procCgroup), read)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: limit %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzCgroupMemoryLimit: any /proc/PID/cgroup and any limit file give a
// positive limit or none, never a panic.
func FuzzCgroupMemoryLimit(f *testing.F) {
	f.Add([]byte("4:memory:/svc/bench\n0::/pod\n"), []byte("314572800\n"))
	f.Add([]byte("0::/\n"), []byte("max"))
	f.Fuzz(func(t *testing.T, procCgroup, file []byte) {
		limit, ok := cgroupMemoryLimit(procCgroup, func(string) ([]byte, error) { return file, nil })
		if ok && limit <= 0 {
			t.Fatalf("limit %d", limit)
		}
	})
}
