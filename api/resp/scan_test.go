package resp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// SCAN walks every name once, in pages, whichever pooled connection
// carries each call; MATCH takes a literal prefix or key only.
func TestScan(t *testing.T) {
	s := serve(t, Config{})
	c := s.client(t)
	ctx := context.Background()
	var want []string
	for i := range 25 {
		k := fmt.Sprintf("p:%02d", i)
		want = append(want, k)
		if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Incr(ctx, "p:05")      // a counter beside nothing: still one name
	c.SAdd(ctx, "p:30", "m") // a set
	want = append(want, "p:30")
	c.Set(ctx, "q", "v", 0)
	var got []string
	iter := c.Scan(ctx, 0, "p:*", 7).Iterator()
	for iter.Next(ctx) {
		got = append(got, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("SCAN MATCH p:* = %q, want %q", got, want)
	}
	// A page of COUNT names, and a cursor to go on.
	keys, cur, err := c.Scan(ctx, 0, "", 5).Result()
	if err != nil || len(keys) != 5 || cur == 0 {
		t.Errorf("SCAN 0 COUNT 5 = %q, %d, %v", keys, cur, err)
	}
	// The cursor belongs to its namespace.
	conn := c.Conn()
	defer conn.Close()
	conn.Do(ctx, "NS", "other")
	if err := conn.Do(ctx, "SCAN", cur).Err(); err == nil || !strings.Contains(err.Error(), "invalid cursor") {
		t.Errorf("SCAN with another namespace's cursor: %v", err)
	}
	for _, tc := range []struct {
		args []any
		err  string
	}{
		{[]any{"SCAN", "12345"}, "ERR invalid cursor"},
		{[]any{"SCAN", "x"}, "ERR invalid cursor"},
		{[]any{"SCAN", "0", "MATCH", "p?"}, "literal prefix"},
		{[]any{"SCAN", "0", "MATCH", "*p*"}, "literal prefix"},
		{[]any{"SCAN", "0", "MATCH", "[p]*"}, "literal prefix"},
		{[]any{"SCAN", "0", "COUNT", "0"}, "ERR syntax error"},
		{[]any{"SCAN", "0", "COUNT", "x"}, "ERR value is not an integer"},
		{[]any{"SCAN", "0", "MATCH"}, "ERR syntax error"},
		{[]any{"SCAN", "0", "TYPE", "string"}, "TYPE is not supported"},
	} {
		if err := c.Do(ctx, tc.args...).Err(); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.err)
		}
	}
	// A literal key: that key alone.
	keys, cur, err = c.Scan(ctx, 0, "p:1", 100).Result()
	if err != nil || !slices.Equal(keys, []string{}) || cur != 0 {
		t.Errorf("SCAN MATCH p:1 = %q, %d, %v; want nothing", keys, cur, err)
	}
	keys, _, err = c.Scan(ctx, 0, "p:10", 100).Result()
	if err != nil || !slices.Equal(keys, []string{"p:10"}) {
		t.Errorf("SCAN MATCH p:10 = %q, %v", keys, err)
	}
	// "*" is every name.
	keys, _, err = c.Scan(ctx, 0, "*", 1000).Result()
	if err != nil || len(keys) != len(want)+1 {
		t.Errorf("SCAN MATCH * = %d names, %v; want %d", len(keys), err, len(want)+1)
	}
}
