package slsemu

import (
	"sync"
	"sync/atomic"
	"time"
)

// faults holds injected failures per project/logstore (FailNext). They are
// keyed by name, not attached to the logstore, so a failure can be armed
// before the logstore exists (e.g. with AutoCreate).
type faults struct {
	armed   atomic.Int64 // len(pending), read without the lock on every request
	mu      sync.Mutex
	pending map[faultKey]*fault
}

type faultKey struct{ project, logstore string }

type fault struct {
	skip      int // requests let through before the first failure
	remaining int
	status    int
	code      string
	delay     time.Duration // answer late instead of failing
}

func (f *faults) arm(project, logstore string, n, status int, code string) {
	f.armFault(project, logstore, n, fault{status: status, code: code})
}

func (f *faults) armFault(project, logstore string, n int, ft fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() { f.armed.Store(int64(len(f.pending))) }()
	k := faultKey{project, logstore}
	if n <= 0 {
		delete(f.pending, k)
		return
	}
	if f.pending == nil {
		f.pending = make(map[faultKey]*fault)
	}
	ft.remaining = n
	f.pending[k] = &ft
}

// take consumes one armed failure for the logstore, if any.
func (f *faults) take(project, logstore string) *apiError {
	if f.armed.Load() == 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := faultKey{project, logstore}
	ft, ok := f.pending[k]
	if !ok {
		return nil
	}
	if ft.skip > 0 {
		ft.skip--
		return nil
	}
	ft.remaining--
	if ft.remaining <= 0 {
		delete(f.pending, k)
		f.armed.Store(int64(len(f.pending)))
	}
	if ft.delay > 0 {
		f.mu.Unlock()
		time.Sleep(ft.delay)
		f.mu.Lock() // the caller's deferred Unlock
		return nil
	}
	return newAPIError(ft.status, ft.code, "injected failure (slsemu FailNext)")
}
