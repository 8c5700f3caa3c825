package cloud

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// RuntimeEnv is the Go runtime's settings (GOGC, GODEBUG, GOMEMLIMIT, ...)
// that s.yaml gives function fn, read from s.yaml in the module at root.
// Function runs every function with them, so that the local cloud's tests
// and benchmarks run the runtime as deployed and cannot drift from it.
// Values s.yaml leaves to the deployer's environment (${...}) are an error
// here: a local run needs a value.
func RuntimeEnv(root, fn string) (map[string]string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "s.yaml"))
	if err != nil {
		return nil, fmt.Errorf("runtime settings of %s: %w", fn, err)
	}
	var doc struct {
		Resources map[string]struct {
			Props struct {
				Env map[string]string `yaml:"environmentVariables"`
			} `yaml:"props"`
		} `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("runtime settings of %s: s.yaml: %w", fn, err)
	}
	out := map[string]string{}
	res, ok := doc.Resources[fn]
	if !ok {
		return out, nil // not deployed (a test's binary): the runtime's defaults
	}
	for k, v := range res.Props.Env {
		if !strings.HasPrefix(k, "GO") {
			continue
		}
		if strings.Contains(v, "${") {
			return nil, fmt.Errorf("runtime settings of %s: %s is %q, not a value", fn, k, v)
		}
		out[k] = v
	}
	return out, nil
}
