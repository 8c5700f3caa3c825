package deploy

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
)

// ModulePath is the import path of the ndrtrace module.
const ModulePath = "github.com/ndrtrace/ndrtrace"

// ModuleRoot finds the directory holding go.mod, from the working directory
// up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

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
