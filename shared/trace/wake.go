package trace

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/store"
)

// Waker turns the store's wake channel into per-trace signals, so a trace
// waiting for its mapping looks again as soon as ingest writes to its egress
// rather than at its next backoff step. One subscription serves the process,
// however many traces wait.
type Waker struct {
	mu        sync.Mutex
	listeners map[string]map[*Wakeup]struct{}
	sub       *redis.PubSub
	// Received counts the wake messages this process received.
	received int64
}

// Wakeup is one trace's subscription: C is signalled when any of its
// egresses is written, and Take says which.
type Wakeup struct {
	C     <-chan struct{}
	c     chan struct{}
	mu    sync.Mutex
	woken map[string]*store.WakeFilter
}

// Take returns the egresses written since the last Take (as
// store.EgressString renders them), each with the tuples written to it (a
// nil filter: any), and forgets them.
func (u *Wakeup) Take() map[string]*store.WakeFilter {
	u.mu.Lock()
	defer u.mu.Unlock()
	w := u.woken
	u.woken = nil
	return w
}

func (u *Wakeup) wake(egress string, f *store.WakeFilter) {
	u.mu.Lock()
	if u.woken == nil {
		u.woken = map[string]*store.WakeFilter{}
	}
	if prev, ok := u.woken[egress]; ok {
		f = prev.Union(f) // filters are shared between wake-ups: never changed
	}
	u.woken[egress] = f
	u.mu.Unlock()
	select {
	case u.c <- struct{}{}:
	default: // a wake-up is already pending; Take will see this egress too
	}
}

// NewWaker subscribes to the wake channel. Close it when done.
func NewWaker(ctx context.Context, rdb redis.UniversalClient) *Waker {
	w := &Waker{listeners: map[string]map[*Wakeup]struct{}{}, sub: rdb.Subscribe(ctx, store.WakeChannel)}
	go w.run()
	return w
}

func (w *Waker) run() {
	for msg := range w.sub.Channel() {
		w.mu.Lock()
		w.received++
		egress, f := store.ParseWake(msg.Payload)
		for u := range w.listeners[egress] {
			u.wake(egress, f)
		}
		w.mu.Unlock()
	}
}

// Listen subscribes to writes of the egresses; stop ends it.
func (w *Waker) Listen(egresses []string) (u *Wakeup, stop func()) {
	c := make(chan struct{}, 1)
	u = &Wakeup{C: c, c: c}
	if w == nil {
		return u, func() {}
	}
	w.mu.Lock()
	for _, e := range egresses {
		if w.listeners[e] == nil {
			w.listeners[e] = map[*Wakeup]struct{}{}
		}
		w.listeners[e][u] = struct{}{}
	}
	w.mu.Unlock()
	return u, func() {
		w.mu.Lock()
		for _, e := range egresses {
			delete(w.listeners[e], u)
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
