package deploy

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestRuntimeEnv(t *testing.T) {
	root := moduleRoot(t)
	for _, fn := range []string{"nat-ingest", "lb-ingest", "trace"} {
		env, err := RuntimeEnv(root, fn)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := strconv.Atoi(env["GOGC"]); err != nil || n < 100 {
			t.Errorf("%s: GOGC = %q, want a percentage of at least 100", fn, env["GOGC"])
		}
		if !strings.Contains(","+env["GODEBUG"]+",", ",madvdontneed=0,") {
			t.Errorf("%s: GODEBUG = %q, want madvdontneed=0 among its settings", fn, env["GODEBUG"])
		}
		for k := range env {
			if !strings.HasPrefix(k, "GO") {
				t.Errorf("%s: %s is not a runtime setting", fn, k)
			}
		}
	}
	if _, err := RuntimeEnv(root, "no-such-function"); err == nil || !strings.Contains(err.Error(), "no such function") {
		t.Errorf("unknown function: err = %v", err)
	}
}

func TestRuntimeEnvWantsValues(t *testing.T) {
	dir := t.TempDir()
	doc := "resources:\n  f:\n    props:\n      environmentVariables:\n        GOGC: ${env('GOGC', '100')}\n"
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RuntimeEnv(dir, "f"); err == nil || !strings.Contains(err.Error(), "GOGC") {
		t.Errorf("GOGC from the deployer's environment: err = %v, want one naming GOGC", err)
	}
}
