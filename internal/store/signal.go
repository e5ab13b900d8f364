package store

import (
	"context"
	"sync"
)

// Signal fans a coalescing "something changed" signal out to subscribers.
// Backends use it to implement Watcher: they Notify after each commit and
// Close when the store closes. The zero value is ready to use.
type Signal struct {
	mu     sync.Mutex
	subs   map[chan struct{}]struct{}
	done   chan struct{} // closed by Close; made lazily
	closed bool
}

// Subscribe returns a channel that receives a value after Notify (signals
// coalesce: one pending value stands for any number of notifications). The
// channel is closed when ctx ends or the Signal closes. It reports false,
// and no channel, once the Signal is closed.
func (s *Signal) Subscribe(ctx context.Context) (<-chan struct{}, bool) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false
	}
	if s.subs == nil {
		s.subs = make(map[chan struct{}]struct{})
	}
	s.subs[ch] = struct{}{}
	done := s.doneLocked()
	s.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		s.mu.Lock()
		if _, ok := s.subs[ch]; ok {
			delete(s.subs, ch)
			close(ch)
		}
		s.mu.Unlock()
	}()
	return ch, true
}

// Notify signals every subscriber without blocking; a subscriber with a
// signal already pending has nothing more to learn.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Close closes every subscriber's channel; later Subscribe calls fail.
func (s *Signal) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for ch := range s.subs {
		delete(s.subs, ch)
		close(ch)
	}
	close(s.doneLocked())
}

func (s *Signal) doneLocked() chan struct{} {
	if s.done == nil {
		s.done = make(chan struct{})
	}
	return s.done
}
