package fcemu

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// waitDelay bounds how long Wait keeps copying output after the child exits,
// in case a grandchild inherited its stdout and keeps the pipe open.
const waitDelay = 2 * time.Second

// startProcess launches the function binary the way FC does: working
// directory = code directory, FC system environment, FC_RUNTIME_API = addr.
func (r *Runtime) startProcess() error {
	cmd := exec.Command(r.fn.Binary)
	cmd.Dir = filepath.Dir(r.fn.Binary)
	cmd.Env = r.fn.environ(r.Addr(), r.instanceID)
	cmd.Stdout = r.out
	cmd.Stderr = r.out
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting function binary %s: %w", r.fn.Binary, err)
	}
	r.cmd = cmd
	go r.watchProcess()
	return nil
}

// watchProcess records why the child exited and broadcasts it, so every
// waiting and future Invoke fails fast instead of running into its timeout.
func (r *Runtime) watchProcess() {
	waitErr := r.cmd.Wait()
	var err error
	if waitErr != nil {
		err = fmt.Errorf("%w (%w)", ErrProcessExited, waitErr)
	} else {
		err = fmt.Errorf("%w (%s)", ErrProcessExited, r.cmd.ProcessState)
	}
	if tail := strings.TrimSpace(r.out.Tail()); tail != "" {
		err = fmt.Errorf("%w; last output:\n%s", err, tail)
	}
	r.exitErr = err
	close(r.exited)
}
