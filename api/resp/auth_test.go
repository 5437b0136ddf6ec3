package resp

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// refusals returns grapevine_resp_refusals_total{code} of s's node.
func (s *served) refusals(t *testing.T, code string) float64 {
	t.Helper()
	mfs, err := s.node.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "grapevine_resp_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// With tokens, every command but AUTH, HELLO and QUIT needs AUTH, and
// each command is checked against the token's grant for the namespace.
func TestAuth(t *testing.T) {
	tokens, file := tokenFile(t, "w-all write\nr-all read\nw-ten write tenant-*\n")
	s := serve(t, Config{Tokens: tokens})
	ctx := context.Background()

	anon := s.client(t)
	run(t, anon, []step{
		{args: []any{"PING"}, err: "NOAUTH Authentication required"},
		{args: []any{"GET", "k"}, err: "NOAUTH"},
		{args: []any{"HELLO", "2"}, err: "NOAUTH HELLO must be called"},
		{args: []any{"AUTH", "nope"}, err: "WRONGPASS"},
		{args: []any{"AUTH", "bob", "w-all"}, err: "WRONGPASS"},
		{args: []any{"HELLO", "2", "AUTH", "default", "nope"}, err: "WRONGPASS"},
	})
	if s.refusals(t, "NOAUTH") < 3 || s.refusals(t, "WRONGPASS") < 3 {
		t.Errorf("refusals not counted: NOAUTH %v, WRONGPASS %v", s.refusals(t, "NOAUTH"), s.refusals(t, "WRONGPASS"))
	}

	writer := s.client(t, func(o *redis.Options) { o.Password = "w-all" })
	run(t, writer, []step{
		{args: []any{"SET", "k", "v"}, want: "OK"},
		{args: []any{"GET", "k"}, want: "v"},
	})
	named := s.client(t, func(o *redis.Options) { o.Username, o.Password = "default", "w-all" })
	run(t, named, []step{{args: []any{"INCR", "c"}, want: int64(1)}})
	if h, err := s.client(t).Do(ctx, "HELLO", "2", "AUTH", "default", "r-all").Slice(); err != nil || len(h) != 14 {
		t.Errorf("HELLO 2 AUTH default r-all = %v, %v", h, err)
	}

	reader := s.client(t, func(o *redis.Options) { o.Password = "r-all" })
	run(t, reader, []step{
		{args: []any{"GET", "k"}, want: "v"},
		{args: []any{"SCAN", "0"}, want: []any{"0", []any{"c", "k"}}},
		{args: []any{"SET", "k", "w"}, err: `NOPERM this token may not write namespace "default"`},
		{args: []any{"DEL", "k"}, err: "NOPERM"},
	})
	if err := reader.Info(ctx, "server").Err(); err != nil {
		t.Errorf("INFO with a read token: %v", err)
	}
	if s.refusals(t, "NOPERM") < 2 {
		t.Errorf("NOPERM refusals not counted: %v", s.refusals(t, "NOPERM"))
	}

	tenant := s.client(t, func(o *redis.Options) { o.Password = "w-ten" })
	conn := tenant.Conn()
	defer conn.Close()
	if err := conn.Get(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), `NOPERM this token may not read namespace "default"`) {
		t.Errorf("GET in default with a tenant-* token: %v", err)
	}
	if err := conn.Do(ctx, "NS", "tenant-x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Set(ctx, "k", "t", 0).Err(); err != nil {
		t.Errorf("SET in tenant-x with a tenant-* token: %v", err)
	}

	// A token removed from the file stops working at once, even on a
	// connection that already sent AUTH.
	if err := os.WriteFile(file, []byte("other write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Get(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("GET after the token was removed: %v", err)
	}
}

// A go-redis client on its defaults (it asks for RESP3 with HELLO 3)
// falls back to RESP2 on -NOPROTO, then sends AUTH and SELECT.
func TestDefaultGoRedisClient(t *testing.T) {
	tokens, _ := tokenFile(t, "w-all write\n")
	s := serve(t, Config{Tokens: tokens, Databases: []string{"default", "tenant-a"}})
	c := redis.NewClient(&redis.Options{Addr: s.addr, Password: "w-all", DB: 1})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through a default go-redis client: %v", err)
	}
	if v, err := s.node.Get(ctx, "tenant-a", []byte("k")); err != nil || string(v.Data) != "v" {
		t.Errorf("tenant-a/k = %q, %v", v.Data, err)
	}
}
