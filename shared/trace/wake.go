package trace

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/store"
)

// Waker turns the store's wake channel into per-trace signals, so a trace
// waiting for its mapping looks again as soon as ingest writes to its egress
// rather than at its next backoff step. One subscription serves the process.
type Waker struct {
	mu        sync.Mutex
	listeners map[string]map[chan struct{}]struct{}
	sub       *redis.PubSub
}

// NewWaker subscribes to the wake channel. Close it when done.
func NewWaker(ctx context.Context, rdb redis.UniversalClient) *Waker {
	w := &Waker{listeners: map[string]map[chan struct{}]struct{}{}, sub: rdb.Subscribe(ctx, store.WakeChannel)}
	go w.run()
	return w
}

func (w *Waker) run() {
	for msg := range w.sub.Channel() {
		w.mu.Lock()
		for ch := range w.listeners[msg.Payload] {
			select {
			case ch <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
		w.mu.Unlock()
	}
}

// Listen returns a channel signalled when any of the egresses is written,
// and a function to stop listening.
func (w *Waker) Listen(egresses []string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	if w == nil {
		return ch, func() {}
	}
	w.mu.Lock()
	for _, e := range egresses {
		if w.listeners[e] == nil {
			w.listeners[e] = map[chan struct{}]struct{}{}
		}
		w.listeners[e][ch] = struct{}{}
	}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		for _, e := range egresses {
			delete(w.listeners[e], ch)
			if len(w.listeners[e]) == 0 {
				delete(w.listeners, e)
			}
		}
		w.mu.Unlock()
	}
}

// Close ends the subscription.
func (w *Waker) Close() error {
	if w == nil {
		return nil
	}
	return w.sub.Close()
}
