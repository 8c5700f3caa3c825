package fcemu_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
)

func TestInvocationTimeout(t *testing.T) {
	t.Parallel()
	rt := start(t, fcemu.Function{Timeout: 300 * time.Millisecond, Grace: 200 * time.Millisecond})
	begin := time.Now()
	// sleep_ms ignores ctx, so only the emulator's deadline can end this.
	_, err := rt.Invoke(testCtx(t), []byte(`{"sleep_ms":30000}`))
	if !errors.Is(err, fcemu.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// Not before timeout+grace (500ms); and long before the handler's 30 s
	// sleep could have ended it.
	if elapsed := time.Since(begin); elapsed < 500*time.Millisecond || elapsed > 15*time.Second {
		t.Errorf("timed out after %v, want timeout+grace (500ms)", elapsed)
	}
	invokeEcho(t, rt, `{}`)
}

func TestProcessCrash(t *testing.T) {
	t.Parallel()
	rt, _ := startUnchecked(t, fcemu.Function{Timeout: 120 * time.Second})

	pending := make(chan error, 1)
	go func() {
		_, err := rt.Invoke(testCtx(t), []byte(`{"sleep_ms":60000}`))
		pending <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the slow one reach the handler

	begin := time.Now()
	_, crashErr := rt.Invoke(testCtx(t), []byte(`{"exit":3}`))
	for name, err := range map[string]error{"crashing": crashErr, "pending": <-pending} {
		assertExit3(t, name+" invoke", err)
	}
	// The slow invocation sleeps a minute: a crash that surfaced only at
	// its end (or at the 120 s timeout) would take that long.
	if elapsed := time.Since(begin); elapsed > 30*time.Second {
		t.Errorf("crash took %v to surface; should not wait for the other invocation", elapsed)
	}
	_, err := rt.Invoke(testCtx(t), []byte(`{}`))
	assertExit3(t, "later invoke", err)
	assertExit3(t, "Close", rt.Close())
}

func assertExit3(t *testing.T, what string, err error) {
	t.Helper()
	var exitErr *exec.ExitError
	switch {
	case !errors.Is(err, fcemu.ErrProcessExited):
		t.Errorf("%s: err = %v, want ErrProcessExited", what, err)
	case !errors.As(err, &exitErr) || exitErr.ExitCode() != 3:
		t.Errorf("%s: err = %v, want exit code 3", what, err)
	case !strings.Contains(err.Error(), "exit status 3"):
		t.Errorf("%s: message %q lacks the exit status", what, err)
	}
}

func TestInitializer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fn         fcemu.Function
		wantInited int
		wantErr    string // Start error substring; "" = Start succeeds
	}{
		{name: "disabled", wantInited: 0},
		{name: "runs once before events", fn: fcemu.Function{Initializer: true}, wantInited: 1},
		{name: "failure fails Start", fn: fcemu.Function{Initializer: true, Env: []string{"ECHOFN_INIT_FAIL=1"}},
			wantErr: "initializer asked to fail"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.wantErr != "" {
				fn := tc.fn
				fn.Binary = echoBin
				rt, err := fcemu.Start(testCtx(t), fn)
				if err == nil {
					rt.Close()
					t.Fatal("Start succeeded, want initializer error")
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Start error = %v, want ~%q", err, tc.wantErr)
				}
				return
			}
			rt := start(t, tc.fn)
			for range 2 {
				if _, e := invokeEcho(t, rt, `{}`); e.Inited != tc.wantInited {
					t.Errorf("inited = %d, want %d", e.Inited, tc.wantInited)
				}
			}
		})
	}
}

func TestPreStop(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "prestop")
	rt, _ := startUnchecked(t, fcemu.Function{PreStop: true, Env: []string{"ECHOFN_PRESTOP_FILE=" + marker}})
	invokeEcho(t, rt, `{}`)
	if err := rt.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "stopped" {
		t.Errorf("preStop marker: %q, %v", b, err)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	notFC, err := exec.LookPath("true") // exits at once without polling
	if err != nil {
		notFC = ""
	}
	tests := []struct {
		name    string
		binary  string
		wantErr error  // errors.Is target, or nil
		wantMsg string // substring
	}{
		{name: "missing binary", binary: filepath.Join(t.TempDir(), "nope"), wantMsg: "function binary"},
		{name: "empty path", binary: "", wantMsg: "binary path is empty"},
		{name: "exits without polling", binary: notFC, wantErr: fcemu.ErrProcessExited, wantMsg: "exit status 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantErr != nil && tc.binary == "" {
				t.Skip("no `true` binary on PATH")
			}
			rt, err := fcemu.Start(testCtx(t), fcemu.Function{Binary: tc.binary})
			if err == nil {
				rt.Close()
				t.Fatal("Start succeeded")
			}
			if (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want %v ~%q", err, tc.wantErr, tc.wantMsg)
			}
		})
	}
}
