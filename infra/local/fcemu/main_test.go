package fcemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
)

// echoBin is testdata/echofn compiled once for the whole package.
var echoBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fcemu-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	// Reading the source makes go test's result cache depend on it; the
	// go build child's reads are invisible to the cache.
	if _, err := os.ReadFile("testdata/echofn/main.go"); err != nil {
		fmt.Fprintln(os.Stderr, "reading echofn source:", err)
		return 1
	}
	// Named "main" like FC's go1 handler inside the code directory.
	echoBin = filepath.Join(dir, "code", "main")
	build := exec.Command("go", "build", "-o", echoBin, "./testdata/echofn")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building testdata/echofn:", err)
		return 1
	}
	return m.Run()
}

// lockedBuffer collects child output; it is read only after Close.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs echofn (unless fn.Binary is set) and closes it at cleanup,
// failing the test if Close reports anything. Child output is dumped on
// failure only, to keep passing runs quiet.
func start(t *testing.T, fn fcemu.Function) *fcemu.Runtime {
	t.Helper()
	rt, out := startUnchecked(t, fn)
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("function output:\n%s", out)
		}
	})
	return rt
}

// startUnchecked leaves Close to the test, for runtimes expected to die.
func startUnchecked(t *testing.T, fn fcemu.Function) (*fcemu.Runtime, *lockedBuffer) {
	t.Helper()
	if fn.Binary == "" {
		fn.Binary = echoBin
	}
	out := &lockedBuffer{}
	if fn.Output == nil {
		fn.Output = out
	}
	rt, err := fcemu.Start(testCtx(t), fn)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return rt, out
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echo mirrors testdata/echofn's reply.
type echo struct {
	Peak      int32           `json:"peak"`
	Event     json.RawMessage `json:"event"`
	RequestID string          `json:"request_id"`
	AK        string          `json:"ak"`
	Secret    string          `json:"secret"`
	Token     string          `json:"token"`
	Region    string          `json:"region"`
	Account   string          `json:"account"`
	Function  struct {
		Name, Handler, Memory string
		Timeout               int
	} `json:"function"`
	LogProject string            `json:"log_project"`
	RetryCount int               `json:"retry_count"`
	DeadlineMS int64             `json:"deadline_remaining_ms"`
	Inited     int               `json:"inited"`
	Env        map[string]string `json:"env"`
}

// invokeEcho invokes and requires a successful echo reply.
func invokeEcho(t *testing.T, rt *fcemu.Runtime, event string, opts ...fcemu.InvokeOption) (fcemu.Result, echo) {
	t.Helper()
	res, err := rt.Invoke(testCtx(t), []byte(event), opts...)
	if err != nil {
		t.Fatalf("Invoke(%s): %v", event, err)
	}
	if res.Error != nil {
		t.Fatalf("Invoke(%s): function error: %v", event, res.Error)
	}
	var e echo
	if err := json.Unmarshal(res.Payload, &e); err != nil {
		t.Fatalf("decoding echo %q: %v", res.Payload, err)
	}
	return res, e
}
