package cloud

import (
	"slices"
	"strings"
	"testing"
)

// Functions run locally with s.yaml's runtime settings, under what the
// caller sets: FC passes a function's environmentVariables to it.
func TestFunctionsRunWithTheDeployedRuntimeSettings(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	deployed, err := RuntimeEnv(root, "nat-ingest")
	if err != nil {
		t.Fatal(err)
	}
	if len(deployed) == 0 {
		t.Fatal("s.yaml gives nat-ingest no runtime settings")
	}
	c := &Cloud{RedisURL: "redis://127.0.0.1:1"}
	env, err := c.functionEnv("nat-ingest", map[string]string{"GOGC": "100"})
	if err != nil {
		t.Fatal(err)
	}
	// exec.Cmd keeps the last value of a key given twice.
	last := func(key string) string {
		v := ""
		for _, kv := range env {
			if k, val, _ := strings.Cut(kv, "="); k == key {
				v = val
			}
		}
		return v
	}
	for k, v := range deployed {
		if k == "GOGC" {
			continue
		}
		if got := last(k); got != v {
			t.Errorf("%s = %q, want s.yaml's %q", k, got, v)
		}
	}
	if got := last("GOGC"); got != "100" {
		t.Errorf("GOGC = %q, want the caller's 100 over s.yaml's %q", got, deployed["GOGC"])
	}
	if !slices.Contains(env, "REDIS_URL=redis://127.0.0.1:1") {
		t.Errorf("the local environment is missing: %v", env)
	}
	plain, err := c.functionEnv("a-test-binary", nil)
	if err != nil || slices.ContainsFunc(plain, func(kv string) bool { k, _, _ := strings.Cut(kv, "="); return k == "GOMEMLIMIT" }) {
		t.Errorf("a function s.yaml does not deploy: %v, %v; want no runtime settings", plain, err)
	}
}
