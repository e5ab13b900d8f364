package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
)

func recv(t *testing.T, ch <-chan struct{}) (open bool) {
	t.Helper()
	select {
	case _, open = <-ch:
		return open
	case <-time.After(5 * time.Second):
		t.Fatal("no signal within 5 s")
		return false
	}
}

func pending(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestSignal(t *testing.T) {
	var s store.Signal
	ctx, cancel := context.WithCancel(context.Background())
	a, ok := s.Subscribe(ctx)
	if !ok {
		t.Fatal("Subscribe on a new Signal failed")
	}
	b, _ := s.Subscribe(context.Background())

	s.Notify()
	s.Notify() // coalesces with the first
	if !recv(t, a) || !recv(t, b) {
		t.Fatal("a subscriber's channel closed instead of signalling")
	}
	if pending(a) || pending(b) {
		t.Error("two notifications left two signals; want them coalesced into one")
	}

	cancel()
	if recv(t, a) {
		t.Error("after its context ended, a's channel got a signal; want it closed")
	}
	s.Notify() // must not panic on a's closed channel
	if !recv(t, b) {
		t.Error("b's channel closed when another subscriber's context ended")
	}

	s.Close()
	if recv(t, b) {
		t.Error("after Close, b's channel got a signal; want it closed")
	}
	if _, ok := s.Subscribe(context.Background()); ok {
		t.Error("Subscribe after Close succeeded")
	}
	s.Notify()
	s.Close() // idempotent
}
