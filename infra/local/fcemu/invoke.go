package fcemu

import (
	"context"
	"fmt"
	"time"
)

// Invoke sends event to the function and waits for its answer. A handler
// error or panic is returned in Result.Error with a nil error; the error
// return is reserved for emulator-side failures: ErrProcessExited,
// ErrTimeout, ErrClosed, a duplicate request id or ctx cancellation.
// Invoke is safe for concurrent use; the SDK runs each event in its own
// goroutine, so concurrent invocations really overlap in one process.
func (r *Runtime) Invoke(ctx context.Context, event []byte, opts ...InvokeOption) (Result, error) {
	inv := r.newInvocation(typeHandler, event, r.fn.Timeout)
	for _, opt := range opts {
		opt(inv)
	}
	return r.invoke(ctx, inv)
}

func (r *Runtime) newInvocation(funcType int, event []byte, timeout time.Duration) *invocation {
	return &invocation{
		event:    event,
		creds:    r.fn.Credentials,
		timeout:  timeout,
		funcType: funcType,
	}
}

// invoke is the shared path for events and lifecycle hooks.
func (r *Runtime) invoke(ctx context.Context, inv *invocation) (Result, error) {
	if inv.id == "" {
		inv.id = newRequestID()
	}
	inv.done = make(chan outcome, 1)
	if err := r.usable(); err != nil {
		return Result{RequestID: inv.id}, fmt.Errorf("invoke %s: %w", inv.id, err)
	}
	if err := r.register(inv); err != nil {
		return Result{RequestID: inv.id}, err
	}
	defer r.take(inv.id) // no-op once answered; drops late answers after a timeout

	fail := func(err error) (Result, error) {
		return Result{RequestID: inv.id}, fmt.Errorf("invoke %s: %w", inv.id, err)
	}
	// The same budget applies to waiting for a poll and, afterwards, to
	// waiting for the answer, so a wedged process cannot hang Invoke.
	limit := inv.timeout + r.fn.Grace
	timer := time.NewTimer(limit)
	defer timer.Stop()

	select {
	case r.queue <- inv:
	case <-ctx.Done():
		return fail(fmt.Errorf("waiting for the function to poll: %w", ctx.Err()))
	case <-r.exited:
		return fail(r.stoppedErr())
	case <-r.closing:
		return fail(ErrClosed)
	case <-timer.C:
		return fail(fmt.Errorf("function did not poll for the event within %v: %w", limit, ErrTimeout))
	}
	delivered := time.Now()
	timer.Reset(limit)

	select {
	case out := <-inv.done:
		return r.result(inv, out, delivered)
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-r.exited:
	case <-r.closing:
	case <-timer.C:
		return fail(fmt.Errorf("no /response or /error within timeout %v + grace %v: %w",
			inv.timeout, r.fn.Grace, ErrTimeout))
	}
	// The answer may have raced with the exit or Close; it still counts.
	select {
	case out := <-inv.done:
		return r.result(inv, out, delivered)
	default:
		return fail(r.stoppedErr())
	}
}

func (r *Runtime) result(inv *invocation, out outcome, delivered time.Time) (Result, error) {
	res := Result{RequestID: inv.id, Duration: out.at.Sub(delivered)}
	if out.err != nil {
		return res, fmt.Errorf("invoke %s: %w", inv.id, out.err)
	}
	if out.isError {
		res.Error = decodeFunctionError(out.payload)
	} else {
		res.Payload = out.payload
	}
	return res, nil
}

// usable fails fast for invocations started after Close or a crash.
func (r *Runtime) usable() error {
	select {
	case <-r.closing:
		return ErrClosed
	case <-r.exited:
		return r.stoppedErr()
	default:
		return nil
	}
}

// stoppedErr prefers ErrClosed once Close has begun, since the kill that
// follows is expected and its exit status would only confuse.
func (r *Runtime) stoppedErr() error {
	select {
	case <-r.closing:
		return ErrClosed
	default:
	}
	<-r.exited
	return r.exitErr
}

func (r *Runtime) register(inv *invocation) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.pending[inv.id]; dup {
		return fmt.Errorf("invoke %s: request id already in flight", inv.id)
	}
	r.pending[inv.id] = inv
	return nil
}

// take removes and returns the pending invocation, so exactly one answer
// is ever delivered per request id.
func (r *Runtime) take(id string) *invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	inv := r.pending[id]
	delete(r.pending, id)
	return inv
}

// complete hands an outcome to the waiting Invoke; false means nobody is
// waiting (unknown id, already answered, or timed out).
func (r *Runtime) complete(id string, out outcome) bool {
	inv := r.take(id)
	if inv == nil {
		return false
	}
	inv.done <- out // buffered(1) and take() guarantees a single sender
	return true
}
