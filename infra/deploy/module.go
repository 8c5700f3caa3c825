package deploy

import (
	"os"
	"path/filepath"
	"sort"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
)

// ModulePath is the import path of the ndrtrace module.
const ModulePath = "github.com/ndrtrace/ndrtrace"

// ModuleRoot finds the directory holding go.mod, from the working directory
// up (the local cloud's finder: one rule for every tool of the repository).
func ModuleRoot() (string, error) { return cloud.ModuleRoot() }

// FunctionDirs lists the directories of functions/: those with a main.go
// (functions that build and deploy) and those without one yet (pending: a
// function being written, whose directory is reserved).
func FunctionDirs(root string) (functions, pending []string, err error) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "functions", e.Name(), "main.go")); err == nil {
			functions = append(functions, e.Name())
		} else {
			pending = append(pending, e.Name())
		}
	}
	sort.Strings(functions)
	sort.Strings(pending)
	return functions, pending, nil
}
