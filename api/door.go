package api

import (
	"context"
	"errors"
	"sync"
)

// A door is another way into the node served beside the HTTP API (the
// Redis protocol, gRPC): Serve starts it once the node has started and
// stops it, by cancelling its context and waiting for it to return,
// before it closes the node.
type door struct {
	name  string
	serve func(ctx context.Context) error
}

// WithDoor makes Serve run serve(ctx) beside the HTTP API once the node
// has started; ctx is cancelled at shutdown and serve must then return
// (nil, or the error that stopped it early). name ("RESP", "gRPC") is for
// the log. The caller binds the door's listener before Serve, so a port
// in use is refused before the node starts.
func WithDoor(name string, serve func(ctx context.Context) error) ServeOption {
	return func(s *Server) { s.doors = append(s.doors, door{name, serve}) }
}

// runDoors starts s's doors; wait cancels them and returns their errors.
func (s *Server) runDoors(ctx context.Context) (wait func() error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make([]error, len(s.doors))
	for i, d := range s.doors {
		wg.Go(func() {
			if err := d.serve(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("a door stopped", "door", d.name, "err", err)
				errs[i] = err
			}
		})
	}
	return func() error {
		cancel()
		wg.Wait()
		return errors.Join(errs...)
	}
}
