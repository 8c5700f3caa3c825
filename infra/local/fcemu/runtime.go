package fcemu

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Runtime is one running function instance plus the runtime API it polls.
type Runtime struct {
	fn         Function
	instanceID string
	out        *outputWriter

	ln     net.Listener
	srv    *http.Server
	served chan struct{} // closed when srv.Serve returns

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the child is gone; exitErr is set first
	exitErr error

	// queue is unbuffered on purpose: a send completes only when a GET next
	// long poll takes the event, which tells Invoke when the clock starts.
	queue      chan *invocation
	polled     chan struct{} // closed on the first GET next
	polledOnce sync.Once

	mu      sync.Mutex
	pending map[string]*invocation // by request id, until answered

	closing   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start launches fn.Binary against a fresh runtime API on 127.0.0.1:0 and
// returns once the process polls for its first event (and, with
// Function.Initializer, once the initializer has succeeded). ctx bounds only
// this start-up; the process lives until Close.
func Start(ctx context.Context, fn Function) (*Runtime, error) {
	fn, err := fn.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("fcemu: configuring function: %w", err)
	}
	if _, err := os.Stat(fn.Binary); err != nil {
		return nil, fmt.Errorf("fcemu: function binary: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fcemu: listening for the runtime API: %w", err)
	}
	r := &Runtime{
		fn:         fn,
		instanceID: newInstanceID(),
		out:        newOutputWriter(fn.Output),
		ln:         ln,
		served:     make(chan struct{}),
		exited:     make(chan struct{}),
		queue:      make(chan *invocation),
		polled:     make(chan struct{}),
		pending:    make(map[string]*invocation),
		closing:    make(chan struct{}),
	}
	r.srv = &http.Server{
		Handler:  r.routes(),
		ErrorLog: log.New(r.out, "fcemu: ", log.LstdFlags),
	}
	go func() {
		defer close(r.served)
		_ = r.srv.Serve(ln) // always ErrServerClosed or a listener error after Close
	}()

	if err := r.startProcess(); err != nil {
		_ = r.srv.Close()
		<-r.served
		return nil, fmt.Errorf("fcemu: %w", err)
	}
	if err := r.awaitReady(ctx); err != nil {
		err = fmt.Errorf("fcemu: starting %s: %w", fn.Name, err)
		// An exit error from Close would repeat what err already says.
		if cerr := r.Close(); cerr != nil && !errors.Is(cerr, ErrProcessExited) {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return r, nil
}

// awaitReady waits for the first poll and runs the initializer, so a broken
// binary fails in Start rather than in the first Invoke.
func (r *Runtime) awaitReady(ctx context.Context) error {
	limit := time.NewTimer(r.fn.InitializerTimeout + r.fn.Grace)
	defer limit.Stop()
	select {
	case <-r.polled:
	case <-r.exited:
		return r.exitErr
	case <-ctx.Done():
		return fmt.Errorf("waiting for the first runtime API poll: %w", ctx.Err())
	case <-limit.C:
		return fmt.Errorf("function never polled the runtime API within %v: %w",
			r.fn.InitializerTimeout+r.fn.Grace, ErrTimeout)
	}
	if !r.fn.Initializer {
		return nil
	}
	res, err := r.invoke(ctx, r.newInvocation(typeInitializer, nil, r.fn.InitializerTimeout))
	if err != nil {
		return fmt.Errorf("running initializer: %w", err)
	}
	if res.Error != nil {
		return fmt.Errorf("initializer failed: %w", res.Error)
	}
	return nil
}

// Addr is the runtime API address given to the child as FC_RUNTIME_API.
func (r *Runtime) Addr() string { return r.ln.Addr().String() }

// Close runs the optional preStop hook, kills the function process, waits
// for it and only then stops the runtime API: the SDK retries a failed
// "next" with no backoff, so a live child facing a closed port would spin.
// It returns the preStop failure, if any, and the exit error if the process
// had already died on its own. Close is idempotent.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.shutdown() })
	return r.closeErr
}

func (r *Runtime) shutdown() error {
	var errs []error
	if r.fn.PreStop && !r.hasExited() {
		if err := r.preStop(); err != nil {
			errs = append(errs, err)
		}
	}
	close(r.closing)

	if r.hasExited() {
		errs = append(errs, r.exitErr)
	} else if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		errs = append(errs, fmt.Errorf("fcemu: killing function process: %w", err))
	}
	<-r.exited

	if err := r.srv.Close(); err != nil {
		errs = append(errs, fmt.Errorf("fcemu: closing runtime API: %w", err))
	}
	<-r.served
	return errors.Join(errs...)
}

func (r *Runtime) preStop() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.fn.PreStopTimeout+r.fn.Grace)
	defer cancel()
	res, err := r.invoke(ctx, r.newInvocation(typePreStop, nil, r.fn.PreStopTimeout))
	if err != nil {
		return fmt.Errorf("fcemu: running preStop: %w", err)
	}
	if res.Error != nil {
		return fmt.Errorf("fcemu: preStop failed: %w", res.Error)
	}
	return nil
}

func (r *Runtime) hasExited() bool {
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}
