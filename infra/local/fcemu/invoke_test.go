package fcemu_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
)

var roleCreds = fcemu.Credentials{AccessKeyID: "STS.role-ak", AccessKeySecret: "role-secret", SecurityToken: "role-token"}

func TestContextFields(t *testing.T) {
	t.Parallel()
	rt := start(t, fcemu.Function{
		Name:        "echo",
		Timeout:     10 * time.Second,
		MemoryMB:    256,
		Region:      "cn-shanghai",
		Credentials: roleCreds,
		LogProject:  "proj",
	})
	fresh := fcemu.Credentials{AccessKeyID: "STS.fresh", AccessKeySecret: "fresh-secret", SecurityToken: "fresh-token"}

	tests := []struct {
		name        string
		event       string
		opts        []fcemu.InvokeOption
		wantID      string // "" = any generated id
		wantCreds   fcemu.Credentials
		wantRetry   int
		wantTimeout int           // x-fc-function-timeout as the handler sees it
		wantLeft    time.Duration // ctx deadline remaining, ±1s
	}{
		{name: "defaults", event: `{"hello":"world"}`, wantCreds: roleCreds, wantTimeout: 10, wantLeft: 10 * time.Second},
		{name: "unicode payload", event: `{"s":"日本語 \u00e9","n":[1,2.5,null]}`, wantCreds: roleCreds, wantTimeout: 10, wantLeft: 10 * time.Second},
		{name: "request id and retry", event: `{}`, opts: []fcemu.InvokeOption{fcemu.WithRequestID("req-42"), fcemu.WithRetryCount(3)},
			wantID: "req-42", wantCreds: roleCreds, wantRetry: 3, wantTimeout: 10, wantLeft: 10 * time.Second},
		{name: "credentials override", event: `{}`, opts: []fcemu.InvokeOption{fcemu.WithCredentials(fresh)},
			wantCreds: fresh, wantTimeout: 10, wantLeft: 10 * time.Second},
		{name: "timeout override sets deadline", event: `{}`, opts: []fcemu.InvokeOption{fcemu.WithTimeout(3 * time.Second)},
			wantCreds: roleCreds, wantTimeout: 3, wantLeft: 3 * time.Second},
		{name: "sub-second timeout rounds header up", event: `{}`, opts: []fcemu.InvokeOption{fcemu.WithTimeout(1500 * time.Millisecond)},
			wantCreds: roleCreds, wantTimeout: 2, wantLeft: 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, e := invokeEcho(t, rt, tc.event, tc.opts...)
			if !jsonEqual(t, e.Event, []byte(tc.event)) {
				t.Errorf("event = %s, want %s", e.Event, tc.event)
			}
			if e.RequestID != res.RequestID || (tc.wantID != "" && e.RequestID != tc.wantID) {
				t.Errorf("request id: handler %q, result %q, want %q", e.RequestID, res.RequestID, tc.wantID)
			}
			got := fcemu.Credentials{AccessKeyID: e.AK, AccessKeySecret: e.Secret, SecurityToken: e.Token}
			if got != tc.wantCreds {
				t.Errorf("credentials = %+v, want %+v", got, tc.wantCreds)
			}
			if e.Region != "cn-shanghai" || e.Account != fcemu.DefaultAccountID {
				t.Errorf("region/account = %q/%q", e.Region, e.Account)
			}
			if e.Function.Name != "echo" || e.Function.Handler != "main" || e.Function.Memory != "256" || e.Function.Timeout != tc.wantTimeout {
				t.Errorf("function = %+v, want echo/main/256/%d", e.Function, tc.wantTimeout)
			}
			if e.LogProject != "proj" || e.RetryCount != tc.wantRetry {
				t.Errorf("log project %q retry %d, want proj %d", e.LogProject, e.RetryCount, tc.wantRetry)
			}
			left := time.Duration(e.DeadlineMS) * time.Millisecond
			if left > tc.wantLeft || left < tc.wantLeft-time.Second {
				t.Errorf("deadline remaining %v, want ≈ %v", left, tc.wantLeft)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	rt := start(t, fcemu.Function{
		Name:        "envfn",
		Credentials: roleCreds,
		Env:         []string{"ECHO_EXTRA=extra", "FC_RUNTIME_API=elsewhere:1"},
	})
	_, e := invokeEcho(t, rt, `{}`)
	codeDir := filepath.Dir(echoBin)
	want := map[string]string{
		"FC_FUNCTION_NAME":            "envfn",
		"FC_REGION":                   fcemu.DefaultRegion,
		"FC_ACCOUNT_ID":               fcemu.DefaultAccountID,
		"FC_FUNCTION_HANDLER":         "main",
		"FC_FUNCTION_MEMORY_SIZE":     "512",
		"FC_FUNC_CODE_PATH":           codeDir,
		"FC_RUNTIME_API":              rt.Addr(), // a user value must not win
		"ALIBABA_CLOUD_ACCESS_KEY_ID": roleCreds.AccessKeyID,
		"ECHO_EXTRA":                  "extra",
		"PWD":                         codeDir,
	}
	for k, v := range want {
		if e.Env[k] != v {
			t.Errorf("%s = %q, want %q", k, e.Env[k], v)
		}
	}
	if !strings.HasPrefix(e.Env["FC_INSTANCE_ID"], "c-") {
		t.Errorf("FC_INSTANCE_ID = %q", e.Env["FC_INSTANCE_ID"])
	}
}

func TestFunctionErrors(t *testing.T) {
	t.Parallel()
	rt := start(t, fcemu.Function{Timeout: 5 * time.Second})
	tests := []struct {
		name      string
		event     string
		opts      []fcemu.InvokeOption
		wantType  string
		wantMsg   string
		wantStack bool
	}{
		{name: "returned error", event: `{"fail":true}`, wantType: "errorString", wantMsg: "asked to fail"},
		{name: "panic", event: `{"panic":true}`, wantType: "string", wantMsg: "asked to panic", wantStack: true},
		{name: "invalid json", event: `not json`, wantType: "SyntaxError", wantMsg: "invalid character"},
		{name: "ctx deadline from header", event: `{"wait_ctx":true}`, opts: []fcemu.InvokeOption{fcemu.WithTimeout(300 * time.Millisecond)},
			wantType: "deadlineExceededError", wantMsg: "context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := rt.Invoke(testCtx(t), []byte(tc.event), tc.opts...)
			if err != nil {
				t.Fatalf("Invoke: %v (a function error must not be an Invoke error)", err)
			}
			if res.Error == nil {
				t.Fatalf("Result.Error = nil, payload %s", res.Payload)
			}
			if res.Error.Type != tc.wantType || !strings.Contains(res.Error.Message, tc.wantMsg) {
				t.Errorf("error = %+v, want type %q message ~%q", res.Error, tc.wantType, tc.wantMsg)
			}
			if hasStack := len(res.Error.StackTrace) > 0; hasStack != tc.wantStack {
				t.Errorf("stack trace present = %v, want %v", hasStack, tc.wantStack)
			}
			if res.Payload != nil {
				t.Errorf("Payload = %q, want nil on error", res.Payload)
			}
			// The SDK recovers and keeps serving.
			invokeEcho(t, rt, `{"after":"`+tc.name+`"}`)
		})
	}
}

func TestConcurrentInvocations(t *testing.T) {
	t.Parallel()
	rt := start(t, fcemu.Function{Timeout: 5 * time.Second})
	const n, sleep = 20, 300 * time.Millisecond
	var peak atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("req-%02d", i)
			event := fmt.Sprintf(`{"sleep_ms":%d,"i":%d}`, sleep.Milliseconds(), i)
			res, e := invokeEcho(t, rt, event, fcemu.WithRequestID(id))
			var got struct{ I int }
			if err := json.Unmarshal(e.Event, &got); err != nil || got.I != i {
				t.Errorf("%s: got event %s, want i=%d", id, e.Event, i)
			}
			if res.RequestID != id || e.RequestID != id {
				t.Errorf("%s: result id %q, handler id %q", id, res.RequestID, e.RequestID)
			}
			for p := peak.Load(); e.Peak > p && !peak.CompareAndSwap(p, e.Peak); p = peak.Load() {
			}
			if res.Duration < sleep {
				t.Errorf("%s: duration %v shorter than the handler's sleep", id, res.Duration)
			}
		})
	}
	wg.Wait()
	// Handlers report how many ran at once, as they saw it: serial
	// execution would make that 1 every time.
	if peak := peak.Load(); peak < 2 {
		t.Errorf("at most %d handler ran at a time; the invocations did not overlap", peak)
	}
}

func TestDuplicateRequestID(t *testing.T) {
	t.Parallel()
	rt := start(t, fcemu.Function{})
	done := make(chan error, 1)
	go func() {
		_, err := rt.Invoke(context.Background(), []byte(`{"sleep_ms":500}`), fcemu.WithRequestID("dup"))
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := rt.Invoke(testCtx(t), []byte(`{}`), fcemu.WithRequestID("dup")); err == nil || !strings.Contains(err.Error(), "already in flight") {
		t.Errorf("second invoke with the same id: err = %v, want 'already in flight'", err)
	}
	if err := <-done; err != nil {
		t.Errorf("first invoke: %v", err)
	}
}

func TestInvokeContextCanceled(t *testing.T) {
	t.Parallel()
	rt := start(t, fcemu.Function{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := rt.Invoke(ctx, []byte(`{"sleep_ms":1000}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	invokeEcho(t, rt, `{}`) // the late answer is dropped, the process still serves
}

func TestInvokeAfterClose(t *testing.T) {
	t.Parallel()
	rt, _ := startUnchecked(t, fcemu.Function{})
	if err := rt.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := rt.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := rt.Invoke(testCtx(t), []byte(`{}`)); !errors.Is(err, fcemu.ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("decoding %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}
