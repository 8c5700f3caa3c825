package openapiemu_test

import (
	"context"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

const (
	ownAccount    = "1000000000000001"
	memberAccount = "2000000000000002"
	hangzhou      = "cn-hangzhou"
	shanghai      = "cn-shanghai"
)

var ownKey = openapiemu.Credentials{AccessKeyID: "LTAI5tOwnAccountKey01", AccessKeySecret: "own-secret-0123456789abcdef"}

type fixture struct {
	emu *openapiemu.Server
	cl  *cloud.Client
}

// setup starts an emulator and points the real v1 SDK (through package
// cloud) at it exactly as a local run does: HTTP_PROXY and scheme http.
func setup(t *testing.T) *fixture {
	t.Helper()
	emu := openapiemu.New()
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	t.Setenv("HTTP_PROXY", emu.ProxyURL())
	for _, v := range []string{"http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(v, "")
	}
	emu.AddAccount(ownAccount, ownKey)
	// These tests check what the client sends and reads; the timing of
	// changes has its own tests (timing_test.go).
	emu.SetControlPlaneDelay(0)
	return &fixture{emu: emu, cl: newClient(t, cloud.Credentials{AccessKeyID: ownKey.AccessKeyID, AccessKeySecret: ownKey.AccessKeySecret}, nil)}
}

func newClient(t *testing.T, creds cloud.Credentials, tweak func(*cloud.Config)) *cloud.Client {
	t.Helper()
	cfg := cloud.Config{Scheme: "http", CallTimeout: 5 * time.Second, BaseBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	cl, err := cloud.New(creds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}
