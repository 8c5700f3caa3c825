// Package cloud assembles the local cloud that tests and `make run` use: the
// SLS emulator, the OpenAPI emulator (VPC, ALB, SLB, ECS, STS), Redis (a real
// redis-server, an embedded one, or a given URL) and the compiled function
// binaries running under the FC runtime-API emulator. The binaries are the
// ones that deploy to FC, unmodified: local wiring is environment only (one
// HTTP_PROXY in front of both emulators, scheme http for the OpenAPI).
package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/alicebob/miniredis/v2"

	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

// RedisMode chooses the Redis of the local cloud when no URL is given.
type RedisMode int

const (
	// RedisServer runs Debian's redis-server (what the tests use).
	RedisServer RedisMode = iota
	// RedisEmbedded runs miniredis in process: nothing to install.
	RedisEmbedded
)

// Options configure the local cloud.
type Options struct {
	RedisURL string    // use this Redis; empty: start one per RedisMode
	Redis    RedisMode //
	BinDir   string    // compiled functions as BinDir/<name>/main or BinDir/<name>; empty: build them
	Output   io.Writer // the functions' logs; nil: discarded
}

// Cloud is a running local cloud.
type Cloud struct {
	// SLS is the own account's SLS; see AccountSLS for member accounts.
	SLS *slsemu.Server
	// OpenAPI serves the VPC, ALB, SLB, ECS and STS actions. The own
	// account (Account, with Creds) is registered in it.
	OpenAPI  *openapiemu.Server
	RedisURL string
	// Creds are the STS credentials the FC emulator hands each invocation
	// and the SLS emulator requires.
	Creds    fcemu.Credentials
	Region   string
	Account  string
	binDir   string
	output   io.Writer
	closers  []func()
	mu       sync.Mutex
	runtimes []*fcemu.Runtime
	front    *front
	proxyURL string
}

// SLSEndpoint is the endpoint functions are given. Nothing resolves it:
// requests reach the emulator through HTTP_PROXY, as in the SDK's own path.
const SLSEndpoint = "http://cn-hangzhou-intranet.log.aliyuncs.com"

// Start brings the local cloud up.
func Start(ctx context.Context, opts Options) (*Cloud, error) {
	c := &Cloud{
		Creds:   fcemu.Credentials{AccessKeyID: "STS.local-ndrtrace", AccessKeySecret: "local-secret", SecurityToken: "local-sts-token"},
		Region:  "cn-hangzhou",
		Account: "1234567890123456",
		output:  opts.Output,
		binDir:  opts.BinDir,
	}
	if c.output == nil {
		c.output = io.Discard
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()

	c.SLS = slsemu.New(slsemu.Options{AccessKeyID: c.Creds.AccessKeyID, AccessKeySecret: c.Creds.AccessKeySecret, SecurityToken: c.Creds.SecurityToken,
		ETL: newETLRuntime(c, c.Account)})
	if err := c.SLS.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start SLS emulator: %w", err)
	}
	c.closers = append(c.closers, func() { c.SLS.Close() })

	c.OpenAPI = openapiemu.New()
	c.OpenAPI.AddAccount(c.Account, openapiemu.Credentials{
		AccessKeyID: c.Creds.AccessKeyID, AccessKeySecret: c.Creds.AccessKeySecret, SecurityToken: c.Creds.SecurityToken})
	// The roles the central Terraform creates: the ETL jobs of the own
	// account's other regions read with ETLReaderRole and write with
	// ETLSinkRole (TrustETLSink adds member accounts to its trust).
	c.OpenAPI.AddRole(c.Account, ETLReaderRole(c.Account))
	c.OpenAPI.AddRole(c.Account, ETLSinkRole(c.Account))
	// The one-time AliyunLogArchiveRole authorisation (CLB access logs),
	// done by the operator; onboard creates the service-linked delivery
	// roles itself when they are missing.
	c.OpenAPI.AddRole(c.Account, "acs:ram::"+c.Account+":role/AliyunLogArchiveRole")
	c.front = newFront(c.SLS, c.Account, c.OpenAPI)
	c.front.etl = func(account string) slsemu.ETLRuntime { return newETLRuntime(c, account) }
	var err error
	if c.proxyURL, err = c.front.start(); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, c.front.close, c.stopETL)

	switch {
	case opts.RedisURL != "":
		c.RedisURL = opts.RedisURL
	case opts.Redis == RedisEmbedded:
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start embedded Redis: %w", err)
		}
		c.RedisURL = "redis://" + m.Addr() + "/0"
		c.closers = append(c.closers, m.Close)
	default:
		srv, err := redisd.Start(ctx)
		if err != nil {
			return nil, err
		}
		c.RedisURL = srv.URL()
		c.closers = append(c.closers, srv.Stop)
	}

	if c.binDir == "" {
		dir, err := os.MkdirTemp("", "ndrtrace-bin-")
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, func() { os.RemoveAll(dir) })
		if err := Build(ctx, dir); err != nil {
			return nil, err
		}
		c.binDir = dir
	}
	ok = true
	return c, nil
}

// OpenAPIEndpoints pins every product to a regional host locally, so that
// the SDK never falls back to its location service for a region it does not
// know. Any host works: the proxy routes on the API version.
const OpenAPIEndpoints = "vpc=vpc.{region}.aliyuncs.com,alb=alb.{region}.aliyuncs.com,slb=slb.{region}.aliyuncs.com,ecs=ecs.{region}.aliyuncs.com,sts=sts.aliyuncs.com"

// OnboardSLSEndpoint is the SLS endpoint template onboard gets locally
// (plain http through the proxy; https in production).
const OnboardSLSEndpoint = "http://{region}.log.aliyuncs.com"

// ProxyURL is the HTTP proxy in front of the emulators: SLS hosts go to the
// SLS emulator of the signing account, everything else to the OpenAPI
// emulator.
func (c *Cloud) ProxyURL() string { return c.proxyURL }

// AccountSLS is the SLS of an account: Cloud.SLS for the own account, a
// separate emulator for a member account (which accepts the credentials STS
// issued for the member's roles).
func (c *Cloud) AccountSLS(account string) *slsemu.Server {
	if account == c.Account || account == "" {
		return c.SLS
	}
	return c.front.member(account)
}

// Env is the environment every function gets locally: Redis, the proxy
// that routes SLS and OpenAPI traffic to the emulators, and plain http for
// the OpenAPI.
func (c *Cloud) Env(extra map[string]string) []string {
	env := []string{
		"REDIS_URL=" + c.RedisURL,
		"HTTP_PROXY=" + c.proxyURL,
		"NO_PROXY=",
		"LOG_LEVEL=info",
		"ALIBABA_CLOUD_OPENAPI_SCHEME=http",
		"ALIBABA_CLOUD_OPENAPI_ENDPOINTS=" + OpenAPIEndpoints,
		"ONBOARD_SLS_ENDPOINT=" + OnboardSLSEndpoint,
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// Function starts a compiled function under the FC emulator with env added
// to the local environment, over the Go runtime settings s.yaml gives it
// (RuntimeEnv). It is stopped by Close.
func (c *Cloud) Function(ctx context.Context, name string, env map[string]string, opts ...func(*fcemu.Function)) (*fcemu.Runtime, error) {
	fnEnv, err := c.functionEnv(name, env)
	if err != nil {
		return nil, fmt.Errorf("start function %s: %w", name, err)
	}
	fn := fcemu.Function{
		Name:        name,
		Binary:      c.binary(name),
		Env:         fnEnv,
		Region:      c.Region,
		AccountID:   c.Account,
		Credentials: c.Creds,
		Output:      c.output,
	}
	for _, o := range opts {
		o(&fn)
	}
	rt, err := fcemu.Start(ctx, fn)
	if err != nil {
		return nil, fmt.Errorf("start function %s: %w", name, err)
	}
	c.mu.Lock()
	c.runtimes = append(c.runtimes, rt)
	c.mu.Unlock()
	return rt, nil
}

// functionEnv is the local environment, s.yaml's runtime settings for
// name, and env, which wins over both.
func (c *Cloud) functionEnv(name string, env map[string]string) ([]string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	settings, err := RuntimeEnv(root, name)
	if err != nil {
		return nil, err
	}
	maps.Copy(settings, env)
	return c.Env(settings), nil
}

// binary is a function's compiled binary: BinDir/<name>/main as Build lays
// them out, or BinDir/<name> as `go build -o dir/ ./functions/...` does.
func (c *Cloud) binary(name string) string {
	p := filepath.Join(c.binDir, name, "main")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	return filepath.Join(c.binDir, name)
}

// Close stops everything, functions first.
func (c *Cloud) Close() {
	c.mu.Lock()
	for _, rt := range c.runtimes {
		rt.Close()
	}
	c.runtimes = nil
	c.mu.Unlock()
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// Functions lists the function names of the repository.
func Functions() ([]string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, "functions", e.Name(), "main.go")); e.IsDir() && err == nil {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Build compiles every function as FC's go1 runtime wants it (static
// linux/amd64) into dir/<name>/main. One go command builds them all, so the
// packages they share compile once and in parallel.
func Build(ctx context.Context, dir string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	names, err := Functions()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", tmp + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./functions/"+n)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build functions: %v\n%s", err, out)
	}
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, n), filepath.Join(dir, n, "main")); err != nil {
			return fmt.Errorf("place %s: %w", n, err)
		}
	}
	return nil
}

// ModuleRoot finds the directory of go.mod from the working directory up.
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
