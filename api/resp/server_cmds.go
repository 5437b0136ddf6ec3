package resp

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tidwall/redcon"
)

// Server commands: COMMAND INFO CONFIG.

// COMMAND [COUNT | DOCS | INFO name...]: enough for redis-cli and client
// libraries. Each command is described Redis 6 style: name, arity,
// flags, first key, last key, step.
func cmdCommand(_ context.Context, _ *session, w *redcon.Writer, args [][]byte) {
	if len(args) == 1 {
		names := commandNames()
		w.WriteArray(len(names))
		for _, n := range names {
			writeCommandInfo(w, commands[n])
		}
		return
	}
	switch sub := strings.ToLower(string(args[1])); sub {
	case "count":
		w.WriteInt(len(commands))
	case "docs":
		w.WriteArray(0) // no documentation: redis-cli then shows no hints
	case "info":
		w.WriteArray(len(args) - 2)
		for _, a := range args[2:] {
			if c, ok := commands[strings.ToLower(string(a))]; ok {
				writeCommandInfo(w, c)
			} else {
				w.WriteNull()
			}
		}
	default:
		w.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. grapevine knows COMMAND, COMMAND COUNT, COMMAND DOCS and COMMAND INFO", clip(args[1])))
	}
}

// writeCommandInfo writes c as COMMAND describes a command.
func writeCommandInfo(w *redcon.Writer, c *command) {
	var flags []string
	first, last, step := 0, 0, 0
	switch c.access {
	case accessWrite:
		flags = append(flags, "write")
	case accessRead:
		flags = append(flags, "readonly")
	}
	if c.access == accessRead || c.access == accessWrite {
		first, last, step = 1, 1, 1
		switch c.name {
		case "del", "exists", "mget":
			last = -1
		case "mset":
			last, step = -1, 2
		case "scan":
			first, last, step = 0, 0, 0
		}
	}
	w.WriteArray(6)
	w.WriteBulkString(c.name)
	w.WriteInt(c.arity)
	w.WriteArray(len(flags))
	for _, f := range flags {
		w.WriteString(f)
	}
	w.WriteInt(first)
	w.WriteInt(last)
	w.WriteInt(step)
}

// CONFIG GET pattern: grapevine has no Redis configuration, so the answer
// is always empty (redis-benchmark then says it could not read it).
func cmdConfig(_ context.Context, _ *session, w *redcon.Writer, args [][]byte) {
	if strings.ToLower(string(args[1])) == "get" && len(args) == 3 {
		w.WriteArray(0)
		return
	}
	w.WriteError("ERR grapevine takes only CONFIG GET (answered empty); configure the daemon with its flags")
}

// redisVersion is the Redis version INFO claims, for clients that parse
// it: grapevine answers a subset of Redis 7.0's commands over RESP2.
const redisVersion = "7.0.0"

// INFO [section]: sections server and grapevine (and keyspace: the
// configured databases); "all", "default" or none gives every section.
func cmdInfo(_ context.Context, s *session, w *redcon.Writer, args [][]byte) {
	want := func(section string) bool {
		if len(args) == 1 {
			return true
		}
		for _, a := range args[1:] {
			if a := strings.ToLower(string(a)); a == section || a == "all" || a == "default" || a == "everything" {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	if want("server") {
		line("# Server")
		line("redis_version:%s", redisVersion)
		line("redis_mode:standalone")
		line("grapevine_version:%s", s.srv.cfg.Version)
		line("os:%s %s", runtime.GOOS, runtime.GOARCH)
		line("process_id:%d", os.Getpid())
		line("uptime_in_seconds:%d", int64(time.Since(s.srv.started).Seconds()))
		line("")
	}
	st := s.srv.node.Status()
	if want("grapevine") {
		line("# grapevine")
		line("peer_id:%s", st.ID)
		line("network:%s", st.Network)
		line("peers:%d", st.Peers)
		line("namespace:%s", s.ns)
		names := make([]string, 0, len(st.Namespaces))
		for ns := range st.Namespaces {
			names = append(names, ns)
		}
		slices.Sort(names)
		for _, ns := range names {
			n := st.Namespaces[ns]
			last := "never"
			if !n.Sync.LastRound.IsZero() {
				last = n.Sync.LastRound.UTC().Format(time.RFC3339)
			}
			syncing := 0
			if n.Sync.Syncing {
				syncing = 1
			}
			line("ns_%s:items=%d,tombstones=%d,syncing=%d,last_sync=%s", ns, n.Items, n.Tombstones, syncing, last)
		}
		line("")
	}
	if want("keyspace") {
		line("# Keyspace")
		for i, ns := range s.srv.cfg.Databases {
			if n, ok := st.Namespaces[ns]; ok && n.Items > 0 {
				line("db%d:keys=%d,expires=0,avg_ttl=0", i, n.Items)
			}
		}
	}
	w.WriteBulkString(b.String())
}
