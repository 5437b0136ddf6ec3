package resp

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// commits returns how many apply batches s's node has committed (each one
// storage transaction, one fsync): the sample count of
// grapevine_apply_batch_ops.
func (s *served) commits(t *testing.T) uint64 {
	t.Helper()
	mfs, err := s.node.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "grapevine_apply_batch_ops" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no grapevine_apply_batch_ops metric")
	return 0
}

// A pipeline of N SETs on one connection shares the group commit: far
// fewer commits (fsyncs) than N, every reply in order, every value stored.
func TestPipelineSharesCommits(t *testing.T) {
	const n = 200
	s := serve(t, Config{}) // Badger on disk, fsync on
	c := s.client(t, func(o *redis.Options) { o.PoolSize = 1 })
	ctx := context.Background()
	before := s.commits(t)
	p := c.Pipeline()
	cmds := make([]*redis.StatusCmd, n)
	for i := range n {
		cmds[i] = p.Set(ctx, fmt.Sprintf("key-%03d", i), fmt.Sprintf("value-%d", i), 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	commits := s.commits(t) - before
	for i, cmd := range cmds {
		if cmd.Val() != "OK" {
			t.Fatalf("SET %d answered %q", i, cmd.Val())
		}
	}
	for i := range n {
		v, err := s.node.Get(ctx, "default", fmt.Appendf(nil, "key-%03d", i))
		if err != nil || string(v.Data) != fmt.Sprintf("value-%d", i) {
			t.Fatalf("key-%03d = %q, %v", i, v.Data, err)
		}
	}
	t.Logf("%d pipelined SETs took %d commits", n, commits)
	if commits > n/5 {
		t.Errorf("%d pipelined SETs took %d commits; want them to share commits (at most %d)", n, commits, n/5)
	}
}

// A pipeline answers as if its commands ran one after the other: a
// repeated key waits for the command before it, and so does a command
// that changes the session (NS).
func TestPipelineKeepsOrder(t *testing.T) {
	s := serve(t, Config{})
	c := s.client(t, func(o *redis.Options) { o.PoolSize = 1 })
	ctx := context.Background()
	p := c.Pipeline()
	var got []redis.Cmder
	for i := range 20 {
		got = append(got,
			p.Set(ctx, "k", i, 0),
			p.Get(ctx, "k"),
			p.Incr(ctx, "c"),
			p.Do(ctx, "NS", fmt.Sprintf("ns-%d", i%2)),
			p.SAdd(ctx, "s", i),
		)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		cmds := got[i*5 : i*5+5]
		if v := cmds[1].(*redis.StringCmd).Val(); v != fmt.Sprint(i) {
			t.Errorf("round %d: GET k after SET k %d = %q", i, i, v)
		}
		// The counter c is per namespace: ns-0 and ns-1 alternate after
		// the first round (which starts in default).
		want := int64(1)
		if i > 0 {
			want = int64((i + 1) / 2)
		}
		if v := cmds[2].(*redis.IntCmd).Val(); v != want {
			t.Errorf("round %d: INCR c = %d, want %d", i, v, want)
		}
	}
}
