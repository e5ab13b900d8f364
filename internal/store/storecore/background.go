package storecore

import (
	"context"
	"sync"
)

// Background is a backend's background work (pruning, listeners): the
// goroutines it started, and the signal that stops them. The zero value is
// ready to use.
type Background struct {
	init  sync.Once
	quit  chan struct{}
	wg    sync.WaitGroup
	close sync.Once
}

// Quit is closed by Close.
func (b *Background) Quit() <-chan struct{} {
	b.init.Do(func() { b.quit = make(chan struct{}) })
	return b.quit
}

// Go runs f in a goroutine that Wait waits for; f returns once Quit is
// closed.
func (b *Background) Go(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

// Close tells every goroutine to stop (closes Quit).
func (b *Background) Close() {
	b.Quit()
	b.close.Do(func() { close(b.quit) })
}

// Wait waits until every goroutine Go started has returned.
func (b *Background) Wait() { b.wg.Wait() }

// StartPruning prunes once (its error is Open's) and then every
// PruneInterval until Close.
func (b *Background) StartPruning(ctx context.Context, prune func(context.Context) error) error {
	if err := prune(ctx); err != nil {
		return err
	}
	b.Go(func() { PruneLoop(b.Quit(), prune) })
	return nil
}

// Context returns a context that ends when Close is called (or cancel
// is), for background loops that call the database.
func (b *Background) Context() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-b.Quit():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
