package resp

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"
)

// SELECT n reaches the n-th configured namespace, NS name any namespace;
// each keeps its own keys.
func TestNamespaces(t *testing.T) {
	s := serve(t, Config{Databases: []string{"default", "tenant-a"}})
	ctx := context.Background()
	db1 := s.client(t, func(o *redis.Options) { o.DB = 1 }) // go-redis sends SELECT 1
	db0 := s.client(t)
	if err := db1.Set(ctx, "k", "in tenant-a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := db0.Set(ctx, "k", "in default", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := s.node.Get(ctx, "tenant-a", []byte("k")); err != nil || string(v.Data) != "in tenant-a" {
		t.Errorf("tenant-a/k = %q, %v", v.Data, err)
	}
	if got, _ := db0.Get(ctx, "k").Result(); got != "in default" {
		t.Errorf("GET k on db 0 = %q", got)
	}
	if got, _ := db1.Get(ctx, "k").Result(); got != "in tenant-a" {
		t.Errorf("GET k on db 1 = %q", got)
	}
	conn := db0.Conn()
	defer conn.Close()
	for _, st := range []struct {
		args []any
		want any
	}{
		{[]any{"NS", "tenant-b"}, "OK"},
		{[]any{"NS"}, "tenant-b"},
		{[]any{"GET", "k"}, nil},
		{[]any{"SET", "k", "in tenant-b"}, "OK"},
		{[]any{"SELECT", "1"}, "OK"},
		{[]any{"NS"}, "tenant-a"},
		{[]any{"GET", "k"}, "in tenant-a"},
	} {
		got, err := conn.Do(ctx, st.args...).Result()
		if st.want == nil {
			if !errors.Is(err, redis.Nil) {
				t.Errorf("%q = %v, %v; want nil", st.args, got, err)
			}
		} else if err != nil || got != st.want {
			t.Errorf("%q = %v, %v; want %v", st.args, got, err, st.want)
		}
	}
	if v, err := s.node.Get(ctx, "tenant-b", []byte("k")); err != nil || string(v.Data) != "in tenant-b" {
		t.Errorf("tenant-b/k = %q, %v", v.Data, err)
	}
	if _, err := New(s.node, Config{Databases: []string{"Not A Namespace"}}); err == nil {
		t.Error("New took an invalid namespace in Databases")
	}
}
