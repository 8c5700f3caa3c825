package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
)

// probe is an event that needs no cloud, and what the function must answer.
type probe struct {
	event []byte
	check func(t *testing.T, res fcemu.Result)
}

// probes of the known functions; any other function gets {} and must
// answer something.
var probes = map[string]probe{
	// An invalid alert: traced at once, without Redis or SLS.
	"trace": {[]byte(`{"alert_id":"x"}`), func(t *testing.T, res fcemu.Result) {
		if res.Error != nil {
			t.Fatalf("function error: %v", res.Error)
		}
		var r struct {
			AlertID string `json:"alert_id"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
		}
		if err := json.Unmarshal(res.Payload, &r); err != nil {
			t.Fatalf("answer %s: %v", res.Payload, err)
		}
		if r.AlertID != "x" || r.Status != "invalid" || r.Reason == "" {
			t.Errorf("answer %s: want alert x, status invalid and a reason", res.Payload)
		}
	}},
	"nat-ingest": {[]byte(`{}`), ingestWithoutSource},
	"lb-ingest":  {[]byte(`{}`), ingestWithoutSource},
	// A timer event whose payload is not {"dry_run":...}: refused before
	// any cloud call.
	"onboard": {[]byte(`{"triggerTime":"2026-01-01T00:00:00Z","triggerName":"schedule","payload":"{\"dry_run\":\"maybe\"}"}`),
		func(t *testing.T, res fcemu.Result) {
			if res.Error == nil || !strings.Contains(res.Error.Message, "dry_run") {
				t.Errorf("want a function error about dry_run, got %v / %s", res.Error, res.Payload)
			}
		}},
}

// ingestWithoutSource: an event without source is a function error naming
// the missing fields.
func ingestWithoutSource(t *testing.T, res fcemu.Result) {
	if res.Error == nil {
		t.Fatalf("want a function error, got %s", res.Payload)
	}
	for _, f := range []string{"source.endpoint", "logstoreName", "beginCursor"} {
		if !strings.Contains(res.Error.Message, f) {
			t.Errorf("error %q does not name %s", res.Error.Message, f)
		}
	}
}

// TestPackagedFunctions builds and zips every function as `make package`
// does, checks each zip holds an executable, static main at its root, and
// runs that main under the FC runtime-API emulator with an event that
// needs no cloud.
func TestPackagedFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function")
	}
	root := moduleRoot(t)
	functions, _, err := FunctionDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	// Seconds with a warm build cache; the bound is for a cold one.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	t.Cleanup(cancel) // after the parallel subtests
	dist := t.TempDir()
	packageFunctions(ctx, t, root, dist, functions)

	runnable := runtime.GOOS == "linux" && runtime.GOARCH == "amd64"
	var redisURL string
	if runnable {
		redisURL = startRedis(ctx, t)
	}
	for _, fn := range functions {
		t.Run(fn, func(t *testing.T) {
			t.Parallel()
			bin := unzipMain(t, filepath.Join(dist, fn+".zip"), filepath.Join(t.TempDir(), "code"))
			if !runnable {
				t.Skipf("a linux/amd64 binary does not run on %s/%s", runtime.GOOS, runtime.GOARCH)
			}
			out := &lockedBuffer{}
			rt, err := fcemu.Start(ctx, fcemu.Function{
				Name: fn, Binary: bin, Timeout: 20 * time.Second,
				Env:    []string{"REDIS_URL=" + redisURL},
				Output: out,
				Credentials: fcemu.Credentials{
					AccessKeyID: "STS.test", AccessKeySecret: "test", SecurityToken: "test",
				},
			})
			if err != nil {
				t.Fatalf("start %s: %v\n%s", fn, err, out.String())
			}
			defer rt.Close()
			p, ok := probes[fn]
			if !ok {
				p = probe{event: []byte(`{}`), check: func(*testing.T, fcemu.Result) {}}
			}
			res, err := rt.Invoke(ctx, p.event)
			if err != nil {
				t.Fatalf("invoke %s: %v\nfunction output:\n%s", fn, err, out.String())
			}
			p.check(t, res)
		})
	}
}

// packageFunctions runs `make package DIST=dist` when make is there, and
// otherwise the same commands as the Makefile's build and package recipes.
func packageFunctions(ctx context.Context, t *testing.T, root, dist string, functions []string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err == nil {
		cmd := exec.CommandContext(ctx, "make", "-C", root, "package", "DIST="+dist)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make package: %v\n%s", err, out)
		}
		return
	}
	t.Log("make not found: running the Makefile's build and package commands")
	zipfn := filepath.Join(t.TempDir(), "zipfn")
	run(ctx, t, root, nil, "go", "build", "-o", zipfn, "./infra/local/scripts/zipfn")
	for _, fn := range functions {
		bin := filepath.Join(dist, fn, "main")
		run(ctx, t, root, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"},
			"go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "./functions/"+fn)
		run(ctx, t, root, nil, zipfn, bin, filepath.Join(dist, fn+".zip"))
	}
}

func run(ctx context.Context, t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// unzipMain checks the package layout FC's go1 runtime needs (handler
// "main": an executable file main at the root) and extracts main.
func unzipMain(t *testing.T, zipPath, dir string) string {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatalf("open %s: %v", zipPath, err)
	}
	defer zr.Close()
	var main *zip.File
	for _, f := range zr.File {
		if f.Name == "main" {
			main = f
		}
	}
	if main == nil {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		t.Fatalf("%s has no main at its root (entries %v): the handler is main", zipPath, names)
	}
	if main.Mode()&0o111 == 0 {
		t.Fatalf("%s: main has mode %v: FC runs it directly, it must be executable", zipPath, main.Mode())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "main")
	rc, err := main.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, main.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	checkStaticELF(t, bin)
	return bin
}

// checkStaticELF: FC's go1 runtime runs linux/amd64 binaries; a static one
// (CGO_ENABLED=0) needs nothing from the image.
func checkStaticELF(t *testing.T, bin string) {
	t.Helper()
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s is not an ELF binary: %v", bin, err)
	}
	defer ef.Close()
	if ef.Machine != elf.EM_X86_64 {
		t.Errorf("%s is built for %v, want x86-64 (go1 runs on x86_64 only)", bin, ef.Machine)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked: build with CGO_ENABLED=0", bin)
		}
	}
}

// startRedis runs redis-server (infra/local/redisd), or miniredis when it
// is not installed: the probes only need the functions to start.
func startRedis(ctx context.Context, t *testing.T) string {
	t.Helper()
	if _, err := redisd.Binary(); err == nil {
		srv, err := redisd.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
		return srv.URL()
	}
	t.Log("redis-server not found: using miniredis")
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return "redis://" + m.Addr() + "/0"
}

// lockedBuffer collects the function's stdout and stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
