// Package e2e runs the compiled function binaries under the FC runtime-API
// emulator, against the SLS emulator and a real redis-server, as FC would.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
)

var lc *cloud.Cloud

func TestMain(m *testing.M) {
	// Starting the cloud builds every function: minutes on 2 busy cores
	// with a cold build cache. The bound only guards against a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	var err error
	out := os.Stderr
	if os.Getenv("E2E_QUIET") != "" {
		out = nil
	}
	lc, err = cloud.Start(ctx, cloud.Options{Output: writerOrNil(out)})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "local cloud:", err)
		os.Exit(1)
	}
	code := m.Run()
	lc.Close()
	os.Exit(code)
}

func writerOrNil(f *os.File) interface{ Write([]byte) (int, error) } {
	if f == nil {
		return nil
	}
	return f
}

var seq atomic.Int64

// uniq gives each test its own logstore so tests do not see each other's
// records.
func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

const project = "ndr-logs"

func invoke(t *testing.T, rt *fcemu.Runtime, event []byte, opts ...fcemu.InvokeOption) fcemu.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := rt.Invoke(ctx, event, opts...)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return res
}

// ingestRange runs an ingest function over a range and decodes its summary.
func ingestRange(t *testing.T, rt *fcemu.Runtime, logstore, begin, end string) ingest.Summary {
	t.Helper()
	res := invoke(t, rt, cloud.TriggerEvent(project, logstore, begin, end))
	if res.Error != nil {
		t.Fatalf("ingest failed: %v", res.Error)
	}
	var s ingest.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		t.Fatalf("summary %s: %v", res.Payload, err)
	}
	return s
}

func triggerEvent(logstore, begin, end string) []byte {
	return cloud.TriggerEvent(project, logstore, begin, end)
}
