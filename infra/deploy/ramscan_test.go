package deploy

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	scanOnce   sync.Once
	scanResult *Scan
	scanErr    error
)

// scanActions scans the tree once per test binary.
func scanActions(t *testing.T) *Scan {
	t.Helper()
	scanOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			scanErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		scanResult, scanErr = ScanActions(ctx, root)
	})
	if scanErr != nil {
		t.Fatal(scanErr)
	}
	return scanResult
}

// TestRAMScan reports what each function can call (go test -v shows it)
// and checks that every function of functions/ was scanned.
func TestRAMScan(t *testing.T) {
	s := scanActions(t)
	functions, _, err := FunctionDirs(moduleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range functions {
		acts, ok := s.Functions[fn]
		if !ok {
			t.Errorf("functions/%s was not scanned", fn)
			continue
		}
		t.Logf("%s can call %d action(s):", fn, len(acts))
		for _, a := range acts.Names() {
			t.Logf("  %-42s %s", a, strings.Join(acts[a], ", "))
		}
	}
	var unreached []string
	for _, a := range s.All.Names() {
		found := false
		for _, acts := range s.Functions {
			if _, ok := acts[a]; ok {
				found = true
			}
		}
		if !found {
			unreached = append(unreached, a)
		}
	}
	if len(unreached) > 0 {
		t.Logf("called in the tree but reachable from no function: %v", unreached)
	}
}

// TestScanFixture checks the scanner on testdata/ramfix: direct calls,
// calls through an interface, a CommonRequest in a closure reached through
// a function value, and calls no function reaches.
func TestScanFixture(t *testing.T) {
	root := moduleRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	const fix = ModulePath + "/infra/deploy/testdata/ramfix/"
	s, err := scanPackages(ctx, root, fix, "./infra/deploy/testdata/ramfix/...")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Functions["fn"].Names()
	want := []string{"log:PostLogStoreLogs", "vpc:DescribeVpcs", "vpc:ModifyNatGatewayAttribute"}
	if !slices.Equal(got, want) {
		t.Errorf("fn reaches %v, want %v", got, want)
	}
	all := s.All.Names()
	for _, a := range append(want, "ecs:DescribeInstances", "sts:AssumeRole") {
		if !slices.Contains(all, a) {
			t.Errorf("All lacks %s: %v", a, all)
		}
	}
	if sites := s.Functions["fn"]["vpc:ModifyNatGatewayAttribute"]; len(sites) != 1 || !strings.HasPrefix(sites[0], "infra/deploy/testdata/ramfix/lib/lib.go:") {
		t.Errorf("call site of the CommonRequest: %v", sites)
	}
}
