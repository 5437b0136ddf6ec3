package resp

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/redis/go-redis/v9"
)

// step is one command and what a Redis client sees of its reply: a value
// (string, int64, []any), nil for a nil reply, or an error containing err.
type step struct {
	args []any
	want any
	err  string
}

// run sends each step through c and checks its reply.
func run(t *testing.T, c *redis.Client, steps []step) {
	t.Helper()
	ctx := context.Background()
	for _, s := range steps {
		got, err := c.Do(ctx, s.args...).Result()
		name := fmt.Sprintf("%q", s.args)
		if len(name) > 80 {
			name = name[:80] + "..."
		}
		switch {
		case s.err != "":
			if err == nil || !strings.Contains(err.Error(), s.err) {
				t.Errorf("%s: got %v, %v; want an error with %q", name, got, err, s.err)
			}
		case s.want == nil:
			if !errors.Is(err, redis.Nil) {
				t.Errorf("%s: got %#v, %v; want nil", name, got, err)
			}
		case err != nil:
			t.Errorf("%s: %v; want %#v", name, err, s.want)
		case !reflect.DeepEqual(got, s.want):
			t.Errorf("%s: got %#v, want %#v", name, got, s.want)
		}
	}
}

// Every command and its errors, as a go-redis client sees them.
func TestCommands(t *testing.T) {
	s := serve(t, Config{})
	c := s.client(t)
	big := strings.Repeat("x", testMaxValue+1)
	run(t, c, []step{
		{args: []any{"PING"}, want: "PONG"},
		{args: []any{"PING", "hi"}, want: "hi"},
		{args: []any{"PING", "a", "b"}, err: "wrong number of arguments for 'ping'"},
		{args: []any{"ECHO", "x y"}, want: "x y"},
		{args: []any{"ECHO"}, err: "wrong number of arguments for 'echo'"},
		// Strings.
		{args: []any{"GET", "k"}, want: nil},
		{args: []any{"SET", "k", "v"}, want: "OK"},
		{args: []any{"GET", "k"}, want: "v"},
		{args: []any{"SET", "k", "w", "NX"}, want: nil},
		{args: []any{"GET", "k"}, want: "v"},
		{args: []any{"SET", "k", "w", "xx"}, want: "OK"},
		{args: []any{"GET", "k"}, want: "w"},
		{args: []any{"SET", "absent", "v", "XX"}, want: nil},
		{args: []any{"GET", "absent"}, want: nil},
		{args: []any{"SET", "new", "v", "NX", "EX", "100"}, want: "OK"},
		{args: []any{"GET", "new"}, want: "v"},
		{args: []any{"SET", "k", "v", "EX", "0"}, err: "ERR invalid expire time in 'set' command"},
		{args: []any{"SET", "k", "v", "PX", "-5"}, err: "ERR invalid expire time"},
		{args: []any{"SET", "k", "v", "EX", "ten"}, err: "ERR value is not an integer or out of range"},
		{args: []any{"SET", "k", "v", "EX"}, err: "ERR syntax error"},
		{args: []any{"SET", "k", "v", "NX", "XX"}, err: "ERR syntax error"},
		{args: []any{"SET", "k", "v", "EX", "1", "PX", "1"}, err: "ERR syntax error"},
		{args: []any{"SET", "k", "v", "BOGUS"}, err: "ERR syntax error"},
		{args: []any{"SET", "k", "v", "KEEPTTL"}, err: "KEEPTTL is not supported"},
		{args: []any{"SET", "k", "v", "GET"}, err: "GET is not supported"},
		{args: []any{"SET", "k"}, err: "wrong number of arguments for 'set'"},
		{args: []any{"SET", "", "v"}, err: "ERR invalid key"},
		{args: []any{"GET", strings.Repeat("k", node.MaxKeyLen+1)}, err: "ERR invalid key"},
		{args: []any{"SET", "big", big}, err: "ERR value too large"},
		{args: []any{"GET", "big"}, want: nil},
		// Counters.
		{args: []any{"INCR", "c"}, want: int64(1)},
		{args: []any{"INCRBY", "c", "10"}, want: int64(11)},
		{args: []any{"DECR", "c"}, want: int64(10)},
		{args: []any{"DECRBY", "c", "3"}, want: int64(7)},
		{args: []any{"INCRBY", "c", "-2"}, want: int64(5)},
		{args: []any{"GET", "c"}, want: "5"},
		{args: []any{"INCRBY", "c", "x"}, err: "ERR value is not an integer or out of range"},
		{args: []any{"INCRBY", "c", "99999999999999999999"}, err: "ERR value is not an integer or out of range"},
		{args: []any{"INCR"}, err: "wrong number of arguments for 'incr'"},
		{args: []any{"INCR", "k"}, err: "WRONGTYPE"},
		{args: []any{"SET", "c", "x"}, err: "WRONGTYPE"},
		{args: []any{"INCRBY", "max", "9223372036854775807"}, want: int64(9223372036854775807)},
		{args: []any{"INCR", "max"}, err: "ERR increment or decrement would overflow"},
		{args: []any{"DECRBY", "c", "-9223372036854775808"}, err: "ERR decrement would overflow"},
		// Several keys.
		{args: []any{"MSET", "a", "1", "b", "2"}, want: "OK"},
		{args: []any{"MGET", "a", "b", "nope", "c"}, want: []any{"1", "2", nil, "5"}},
		{args: []any{"MSET", "a"}, err: "wrong number of arguments for 'mset'"},
		{args: []any{"MSET", "a", "1", "b"}, err: "wrong number of arguments for 'mset'"},
		{args: []any{"MSET", "a", "9", "c", "9"}, err: "WRONGTYPE"},
		{args: []any{"MSET", "a", "9", "b", big}, err: "ERR value too large"},
		{args: []any{"MGET", "a", "b"}, want: []any{"1", "2"}}, // all or nothing
		{args: []any{"EXISTS", "a", "b", "nope", "a"}, want: int64(3)},
		// Sets.
		{args: []any{"SADD", "s", "x", "y", "x"}, want: int64(2)},
		{args: []any{"SADD", "s", "x"}, want: int64(0)},
		{args: []any{"SMEMBERS", "s"}, want: []any{"x", "y"}},
		{args: []any{"SISMEMBER", "s", "x"}, want: int64(1)},
		{args: []any{"SISMEMBER", "s", "z"}, want: int64(0)},
		{args: []any{"SREM", "s", "x", "z"}, want: int64(1)},
		{args: []any{"SMEMBERS", "s"}, want: []any{"y"}},
		{args: []any{"SMEMBERS", "nothing"}, want: []any{}},
		{args: []any{"SADD", "s", ""}, err: "ERR invalid argument"},
		{args: []any{"GET", "s"}, err: "WRONGTYPE"},
		{args: []any{"MGET", "s"}, want: []any{nil}},
		{args: []any{"SADD", "k", "m"}, err: "WRONGTYPE"},
		{args: []any{"SMEMBERS", "c"}, err: "WRONGTYPE"},
		{args: []any{"SISMEMBER", "k", "m"}, err: "WRONGTYPE"},
		{args: []any{"INCR", "s"}, err: "WRONGTYPE"},
		// DEL takes every type.
		{args: []any{"DEL", "a", "c", "s", "nope"}, want: int64(3)},
		{args: []any{"EXISTS", "a", "c", "s"}, want: int64(0)},
		{args: []any{"GET", "c"}, want: nil},
		{args: []any{"INCR", "c"}, want: int64(1)}, // a reset counter starts again
		{args: []any{"SET", "a", "again"}, want: "OK"},
		// Connection and server.
		{args: []any{"FOO", "bar"}, err: "ERR unknown command 'FOO', with args beginning with: 'bar'"},
		{args: []any{"HELLO", "3"}, err: "NOPROTO"},
		{args: []any{"HELLO", "x"}, err: "ERR Protocol version is not an integer"},
		{args: []any{"HELLO", "2", "BOGUS"}, err: "ERR Syntax error in HELLO option 'BOGUS'"},
		{args: []any{"AUTH", "secret"}, err: "called without any password configured"},
		{args: []any{"SELECT", "0"}, want: "OK"},
		{args: []any{"SELECT", "1"}, err: "ERR DB index is out of range"},
		{args: []any{"SELECT", "x"}, err: "ERR value is not an integer"},
		{args: []any{"NS"}, want: "default"},
		{args: []any{"NS", "Bad NS"}, err: "ERR invalid namespace"},
		{args: []any{"NS", "a", "b"}, err: "wrong number of arguments for 'ns'"},
		{args: []any{"COMMAND", "COUNT"}, want: int64(len(commands))},
		{args: []any{"COMMAND", "DOCS"}, want: []any{}},
		{args: []any{"COMMAND", "INFO", "get", "nope"}, want: []any{[]any{"get", int64(2), []any{"readonly"}, int64(1), int64(1), int64(1)}, nil}},
		{args: []any{"COMMAND", "BOGUS"}, err: "ERR unknown subcommand 'BOGUS'"},
		{args: []any{"CONFIG", "GET", "save"}, want: []any{}},
		{args: []any{"CONFIG", "SET", "save", ""}, err: "ERR grapevine takes only CONFIG GET"},
		{args: []any{"CLIENT", "SETNAME", "me"}, want: "OK"},
		{args: []any{"CLIENT", "GETNAME"}, want: "me"},
		{args: []any{"CLIENT", "KILL"}, err: "ERR unknown subcommand"},
	})
	// What the commands wrote is what the node holds.
	ctx := context.Background()
	if v, err := s.node.Get(ctx, "default", []byte("k")); err != nil || string(v.Data) != "w" {
		t.Errorf("node.Get(k) = %q, %v; want w", v.Data, err)
	}
	if v, err := s.node.Counter(ctx, "default", []byte("c")); err != nil || v != 1 {
		t.Errorf("node.Counter(c) = %d, %v; want 1", v, err)
	}
	hello, err := c.Do(ctx, "HELLO", "2", "SETNAME", "x").Slice()
	if err != nil || len(hello) != 14 || hello[0] != "server" || hello[1] != "grapevine" || hello[5] != int64(2) {
		t.Errorf("HELLO 2 = %#v, %v", hello, err)
	}
	all, err := c.Do(ctx, "COMMAND").Slice()
	if err != nil || len(all) != len(commands) {
		t.Errorf("COMMAND: %d entries, %v; want %d", len(all), err, len(commands))
	}
}

// A value with EX/PX expires: GET answers nil once it has.
func TestSetExpires(t *testing.T) {
	s := serve(t, Config{})
	c := s.client(t)
	ctx := context.Background()
	if err := c.Do(ctx, "SET", "short", "v", "PX", "50").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "SET", "long", "v", "EX", "3600").Err(); err != nil {
		t.Fatal(err)
	}
	v, err := s.node.Get(ctx, "default", []byte("long"))
	if err != nil || v.Expires.IsZero() {
		t.Fatalf("EX 3600 stored no expiry: %+v, %v", v, err)
	}
	testutil.Eventually(t, "short expires", func() bool {
		return errors.Is(c.Get(ctx, "short").Err(), redis.Nil)
	})
	if got, err := c.Get(ctx, "long").Result(); err != nil || got != "v" {
		t.Errorf("GET long = %q, %v", got, err)
	}
}

// INFO has a Server section clients parse and a grapevine section.
func TestInfo(t *testing.T) {
	s := serve(t, Config{})
	c := s.client(t)
	ctx := context.Background()
	c.Set(ctx, "a", "1", 0)
	info, err := c.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Server\r\n", "redis_version:", "# grapevine\r\n", "peer_id:" + s.node.Status().ID, "peers:0", "ns_default:items=1,", "db0:keys=1"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
	only, err := c.Info(ctx, "grapevine").Result()
	if err != nil || strings.Contains(only, "# Server") || !strings.Contains(only, "# grapevine") {
		t.Errorf("INFO grapevine = %q, %v", only, err)
	}
}

// QUIT answers OK and closes the connection.
func TestQuit(t *testing.T) {
	s := serve(t, Config{})
	c := s.client(t, func(o *redis.Options) { o.PoolSize = 1 })
	ctx := context.Background()
	conn := c.Conn()
	defer conn.Close()
	if err := conn.Do(ctx, "QUIT").Err(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
	if err := conn.Ping(ctx).Err(); err == nil {
		t.Error("the connection still answers after QUIT")
	}
}
