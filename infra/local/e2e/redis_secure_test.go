package e2e

import (
	"context"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/config"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// TestFunctionsOverTLSAsALimitedRedisUser runs the compiled functions
// against redis-server as a managed instance runs: TLS only, certificates
// made by the test, and AUTH as an ACL user limited to config.RedisACL (the
// commands and ndr:* keys and channels ndrtrace uses). REDIS_URL carries
// user, password and rediss://; REDIS_CA_CERT the test's CA. Ingest,
// replayed ranges, a trace woken by a landing mapping, a signed webhook and
// its replay, and the inventory all work; nothing is written outside ndr:*.
func TestFunctionsOverTLSAsALimitedRedisUser(t *testing.T) {
	ctx := context.Background()
	srv, err := redisd.StartSecure(ctx, redisd.Secure{User: "ndrtrace", Password: "e2e-Pw1", ACL: config.RedisACL()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	env := map[string]string{"REDIS_URL": srv.URL(), "REDIS_CA_CERT": string(srv.CAPEM)}
	natFn, err := lc.Function(ctx, "nat-ingest", env)
	if err != nil {
		t.Fatal(err)
	}
	traceEnv := map[string]string{"TRACE_MAX_WAIT": "20s", "WEBHOOK_SECRET": secret,
		"RESULTS_ENDPOINT": cloud.SLSEndpoint, "RESULTS_PROJECT": project, "RESULTS_LOGSTORE": resultsLS}
	for k, v := range env {
		traceEnv[k] = v
	}
	lc.Logstore(project, resultsLS)
	traceFn, err := lc.Function(ctx, "trace", traceEnv, func(f *fcemu.Function) { f.Timeout = 60 * time.Second })
	if err != nil {
		t.Fatal(err)
	}

	ls := uniq("nat-tls")
	lc.Logstore(project, ls)
	const eip, remote = "47.100.3.1", "8.8.4.4"
	begin, end, err := lc.Put(project, ls, "", t0, []map[string]string{session(eip, 5000, "172.16.70.1", remote, t0, t0.Add(10*time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if s := ingestRange(t, natFn, ls, begin, end); s.Mappings != 1 {
		t.Fatalf("ingest over TLS: %+v", s)
	}
	if s := ingestRange(t, natFn, ls, begin, end); s.Replayed != 1 || s.Mappings != 0 {
		t.Fatalf("replayed range: %+v", s)
	}

	// A trace waiting on a mapping that lands: the wake-up channel works
	// for the limited user.
	done := make(chan alert.Result, 1)
	go func() {
		done <- traceDirect(t, traceFn, alertBody("tls-late", eip, 5001, remote, 443, t0.Add(time.Minute)))
	}()
	time.Sleep(500 * time.Millisecond)
	begin, end, err = lc.Put(project, ls, "", t0.Add(5*time.Minute), []map[string]string{session(eip, 5001, "172.16.70.2", remote, t0, t0.Add(10*time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	ingestRange(t, natFn, ls, begin, end)
	if r := <-done; r.Status != alert.Traced || r.Asset.PrivateIP != "172.16.70.2" {
		t.Fatalf("waiting trace: %s %+v (%s)", r.Status, r.Asset, r.Reason)
	}

	// A signed webhook, then its replay, which the guard in Redis refuses.
	body := alertBody("tls-http", eip, 5000, remote, 443, t0.Add(time.Minute))
	ts := time.Now().Unix()
	ev := fcemu.HTTPEvent(fcemu.HTTPRequest{Method: "POST", Path: "/", Body: body, Headers: map[string]string{
		"X-Ndrtrace-Timestamp": strconv.FormatInt(ts, 10), "X-Ndrtrace-Signature": webhook.Sign(secret, ts, body)}})
	for i, want := range []int{200, 401} {
		resp, err := fcemu.DecodeHTTPResponse(invoke(t, traceFn, ev).Payload)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("request %d: %v %d %s", i, err, resp.StatusCode, resp.Body)
		}
		var r alert.Result
		if want == 200 && (json.Unmarshal(resp.Body, &r) != nil || r.Status != alert.Traced || r.Asset.PrivateIP != "172.16.70.1") {
			t.Fatalf("signed trace: %s", resp.Body)
		}
	}

	// The inventory, as onboard writes and trace reads it.
	c, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := c.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	inv := inventory.New(rdb)
	asset := inventory.Asset{Kind: mapping.KindNAT, ID: "ngw-tls", Account: "1234567890123456", Region: "cn-hangzhou", VPC: "vpc-e2e",
		Addrs: []inventory.Addr{{Public: netip.MustParseAddr(eip)}}, Logging: inventory.LogOn, Since: t0.Add(-time.Hour)}
	asset.Switches.Attack = true
	if err := inv.ReplaceRegion(ctx, asset.Account, asset.Region, []inventory.Asset{asset}); err != nil {
		t.Fatalf("inventory write as the limited user: %v", err)
	}
	if err := inv.MarkFilled(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := inv.Asset(ctx, mapping.KindNAT, "ngw-tls"); err != nil || !ok || got.VPC != "vpc-e2e" {
		t.Fatalf("inventory read as the limited user: %+v %v %v", got, ok, err)
	}
	// Filled, the inventory makes an unknown address not_covered at once.
	if r := traceDirect(t, traceFn, alertBody("tls-inv", "47.100.3.99", 5000, remote, 443, t0.Add(time.Minute))); r.Status != alert.NotCovered {
		t.Fatalf("trace of an address the inventory does not know: %s %s", r.Status, r.Reason)
	}

	admin := srv.Admin()
	defer admin.Close()
	keys, err := admin.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "ndr:") {
			t.Fatalf("key %q outside ndr:*", k)
		}
	}
}
