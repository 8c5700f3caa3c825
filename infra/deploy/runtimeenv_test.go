package deploy

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
)

func TestRuntimeEnv(t *testing.T) {
	root := moduleRoot(t)
	for _, fn := range []string{"nat-ingest", "lb-ingest", "trace", "investigate", "onboard"} {
		env, err := cloud.RuntimeEnv(root, fn)
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
		// The soft heap cap must leave the instance room for what is not
		// heap (stacks, the runtime, buffers in flight): at most 3/4 of
		// memorySize.
		limit, err := parseMemLimit(env["GOMEMLIMIT"])
		mem := memorySize(t, root, fn)
		if err != nil || limit <= 0 || limit > mem*3/4 {
			t.Errorf("%s: GOMEMLIMIT = %q (%v), want a limit of at most 3/4 of memorySize (%d MiB)", fn, env["GOMEMLIMIT"], err, mem>>20)
		}
	}
	if env, err := cloud.RuntimeEnv(root, "no-such-function"); err != nil || len(env) != 0 {
		t.Errorf("a function s.yaml does not deploy: %v, %v; want the runtime's defaults", env, err)
	}
}

func TestRuntimeEnvWantsValues(t *testing.T) {
	dir := t.TempDir()
	doc := "resources:\n  f:\n    props:\n      environmentVariables:\n        GOGC: ${env('GOGC', '100')}\n"
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cloud.RuntimeEnv(dir, "f"); err == nil || !strings.Contains(err.Error(), "GOGC") {
		t.Errorf("GOGC from the deployer's environment: err = %v, want one naming GOGC", err)
	}
}

// parseMemLimit reads a GOMEMLIMIT value: bytes, with an optional B, KiB,
// MiB, GiB or TiB suffix, as the runtime accepts it.
func parseMemLimit(v string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			x, err := strconv.ParseInt(n, 10, 64)
			return x << u.shift, err
		}
	}
	return strconv.ParseInt(v, 10, 64)
}

// memorySize is fn's memorySize in s.yaml, in bytes.
func memorySize(t *testing.T, root, fn string) int64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Props struct {
				MemorySize int64 `yaml:"memorySize"`
			} `yaml:"props"`
		} `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Resources[fn].Props.MemorySize << 20
}
