package api

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// A door runs once the node has started (it can write), and Serve waits
// for it to return before it closes the node.
func TestDoorRunsWhileTheNodeServes(t *testing.T) {
	n, err := node.New(context.Background(), nodetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wrote := make(chan error, 1)
	stopped := make(chan error, 1)
	door := func(ctx context.Context) error {
		_, err := n.Put(ctx, "default", []byte("door"), []byte("open"))
		wrote <- err
		<-ctx.Done()
		stopped <- n.Err() // the node is still open while a door stops
		return nil
	}
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, n, "127.0.0.1:0", "", testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, WithDoor("test", door))
	}()
	if err := <-wrote; err != nil {
		t.Fatalf("a write through the door: %v", err)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Errorf("the node was closed before the door stopped: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
