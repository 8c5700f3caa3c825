package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// RuntimeEnv is the Go runtime's settings (GOGC, GODEBUG, GOMEMLIMIT, ...)
// that s.yaml gives function fn, read from s.yaml in the module at root.
// The local benchmarks run the functions with these, so that a figure
// measures the runtime as deployed and the two cannot drift apart. Values
// s.yaml leaves to the deployer's environment (${...}) are an error here:
// a benchmark needs a value.
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
	res, ok := doc.Resources[fn]
	if !ok {
		return nil, fmt.Errorf("runtime settings of %s: s.yaml has no such function", fn)
	}
	out := map[string]string{}
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

// FunctionEnv is RuntimeEnv of this module's s.yaml, plus extra: what a
// local run of fn passes it to run as deployed.
func FunctionEnv(fn string, extra map[string]string) (map[string]string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	env, err := RuntimeEnv(root, fn)
	if err != nil {
		return nil, err
	}
	maps.Copy(env, extra)
	return env, nil
}
