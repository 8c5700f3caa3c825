package cloud

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// call runs one API call with retries. attempt gets a context bounded by
// CallTimeout; op names the call in errors.
func (c *Client) call(ctx context.Context, op string, attempt func(ctx context.Context) error) error {
	var last error
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return c.giveUp(op, n-1, err, last)
		}
		actx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		err := attempt(actx)
		cancel()
		if err == nil {
			return nil
		}
		last = wrapErr(op, err)
		setAttempts(last, n)
		if n >= c.cfg.MaxAttempts || !retryable(ctx, last) {
			if ctx.Err() != nil {
				return c.giveUp(op, n, ctx.Err(), last)
			}
			return last
		}
		t := time.NewTimer(backoff(c.cfg.BaseBackoff, c.cfg.MaxBackoff, n))
		select {
		case <-ctx.Done():
			t.Stop()
			return c.giveUp(op, n, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// giveUp reports the caller's context ending, keeping the last API error
// reachable with errors.As.
func (c *Client) giveUp(op string, attempts int, ctxErr, last error) error {
	var le *Error
	if !errors.As(last, &le) {
		return &Error{Op: op, Attempts: attempts, Err: ctxErr}
	}
	return &Error{Op: op, Attempts: attempts, Err: &abortedError{ctxErr: ctxErr, last: le}}
}

// abortedError is the caller's context ending after failed attempts.
type abortedError struct {
	ctxErr error
	last   *Error
}

func (e *abortedError) Error() string {
	return e.ctxErr.Error() + "; last attempt: " + e.last.body()
}

func (e *abortedError) Unwrap() []error { return []error{e.ctxErr, e.last} }

func setAttempts(err error, n int) {
	var e *Error
	if errors.As(err, &e) {
		e.Attempts = n
	}
}

// backoff returns the delay after attempt n (1-based): base*2^(n-1) capped at
// max, with "equal jitter" (half fixed, half random) so that many functions
// throttled together spread out yet still back off.
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}
