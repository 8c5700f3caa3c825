package inventory_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// emulator starts the OpenAPI emulator as ECS for the resolver's fallback,
// reached as the functions reach it: through HTTP_PROXY, with the
// invocation's credentials (here the environment's).
func emulator(t *testing.T) *openapiemu.Server {
	t.Helper()
	emu := openapiemu.New()
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	key := openapiemu.Credentials{AccessKeyID: "LTAIresolver", AccessKeySecret: "resolver-secret"}
	emu.AddAccount(acct, key)
	t.Setenv("HTTP_PROXY", emu.ProxyURL())
	for _, v := range []string{"http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALIBABA_CLOUD_SECURITY_TOKEN"} {
		t.Setenv(v, "")
	}
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key.AccessKeyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", key.AccessKeySecret)
	return emu
}

func resolver(inv *inventory.Inventory) *inventory.Resolver {
	return &inventory.Resolver{Inv: inv, Finder: &inventory.CloudFinder{Inv: inv, Config: cloud.Config{Scheme: "http"}},
		MissTTL: time.Minute, Budget: 300 * time.Millisecond}
}

func ecsCalls(emu *openapiemu.Server) int {
	n := 0
	for _, c := range emu.Calls() {
		if c.Action == "DescribeNetworkInterfaces" {
			n++
		}
	}
	return n
}

// name names one endpoint of vpc-1 at a time, as trace does for a batch.
func name(r *inventory.Resolver, ip string, at time.Time) (alert.Asset, string) {
	c, cancel := context.WithTimeout(ctx, 10*time.Second) // a guard only
	defer cancel()
	ns := []trace.Naming{{Asset: &alert.Asset{PrivateIP: ip, VPCID: "vpc-1"}, At: at}}
	r.Name(c, ns)
	return *ns[0].Asset, ns[0].Why
}

func holders(hs map[string]inventory.Holder) map[string]map[netip.Addr]inventory.Holder {
	m := map[netip.Addr]inventory.Holder{}
	for ip, h := range hs {
		m[netip.MustParseAddr(ip)] = h
	}
	return map[string]map[netip.Addr]inventory.Holder{"vpc-1": m}
}

func TestHistoryNamesTheHolderAtTheAlertsTime(t *testing.T) {
	inv := fresh(t)
	mustReplace(t, inv, natAsset()) // vpc-1 lives in acct/region
	emu := emulator(t)
	const ip, other = "172.16.20.21", "172.16.20.22"
	t1 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	t2, t3, t4 := t1.Add(10*time.Minute), t1.Add(20*time.Minute), t1.Add(30*time.Minute)
	created := t1.Add(-2 * time.Hour)
	a := inventory.Holder{Instance: "i-a", ENI: "eni-a", Since: created} // a primary address since its ENI's creation
	b := inventory.Holder{Instance: "i-b", ENI: "eni-b"}
	steps := []struct {
		at    time.Time
		hs    map[string]inventory.Holder
		moved int
	}{
		{t1, map[string]inventory.Holder{ip: a, other: b}, 2},
		{t2, map[string]inventory.Holder{ip: a, other: b}, 0}, // nothing changed: nothing rewritten
		{t3, map[string]inventory.Holder{other: b}, 1},        // ip released
		{t4, map[string]inventory.Holder{ip: b, other: b}, 1}, // and taken by B
	}
	for _, s := range steps {
		moved, err := inv.RecordHolders(ctx, s.at, holders(s.hs))
		if err != nil || moved != s.moved {
			t.Fatalf("scan at %s: %d moved, %v; want %d", s.at, moved, err, s.moved)
		}
	}
	tests := []struct {
		at        time.Time
		instance  string
		why       string
		reference string
	}{
		{created.Add(time.Minute), "i-a", "", "after A's ENI was created, before the first scan"},
		{t1, "i-a", "", "first scan"},
		{t2, "i-a", "", "last scan that saw A"},
		{t2.Add(time.Second), "", "changed hands between " + t2.Format(time.RFC3339) + " and " + t4.Format(time.RFC3339), "between the scans"},
		{t4, "i-b", "", "B from the scan that saw it"},
		{t4.Add(3 * time.Hour), "i-b", "", "B still, after the last scan"},
		{created.Add(-time.Minute), "", "history begins at " + created.Format(time.RFC3339), "before anything is known"},
	}
	for _, tt := range tests {
		got, why := name(resolver(inv), ip, tt.at)
		if got.InstanceID != tt.instance || !strings.Contains(why, tt.why) || (tt.why == "") != (why == "") {
			t.Errorf("%s: instance %q (%s), want %q (%s)", tt.reference, got.InstanceID, why, tt.instance, tt.why)
		}
		if tt.instance != "" && (got.AccountID != acct || got.Region != region || got.ENIID == "") {
			t.Errorf("%s: %+v", tt.reference, got)
		}
	}
	if n := ecsCalls(emu); n != 0 {
		t.Fatalf("%d ECS calls for addresses the history knows", n)
	}
	if ttl := rdb.TTL(ctx, "ndr:ah:vpc-1").Val(); ttl <= 0 || ttl > inventory.HistoryTTL {
		t.Fatalf("history TTL %v", ttl)
	}
	// A stretch closed longer ago than HistoryTTL is dropped.
	if _, err := inv.RecordHolders(ctx, t4.Add(inventory.HistoryTTL+time.Hour), holders(map[string]inventory.Holder{ip: b})); err != nil {
		t.Fatal(err)
	}
	if v := rdb.HGet(ctx, "ndr:ah:vpc-1", ip).Val(); strings.Contains(v, "i-a") || !strings.Contains(v, "i-b") {
		t.Fatalf("after the horizon: %q", v)
	}
	if rdb.HExists(ctx, "ndr:ah:vpc-1", other).Val() {
		t.Fatal("an address released before the horizon is still kept")
	}
}

func TestFallbackAsksECSOnceAndCaches(t *testing.T) {
	inv := fresh(t)
	mustReplace(t, inv, natAsset())
	emu := emulator(t)
	emu.AddENI(acct, region, openapiemu.ENI{ID: "eni-1", InstanceID: "i-1", VPCID: "vpc-1", PrimaryIP: "172.16.20.21"})
	r := resolver(inv)
	now := time.Now()
	// The scan of vpc-1 saw another address only: these two are misses.
	if _, err := inv.RecordHolders(ctx, now.Add(-time.Hour), holders(map[string]inventory.Holder{"172.16.9.9": {ENI: "eni-9"}})); err != nil {
		t.Fatal(err)
	}
	got, why := name(r, "172.16.20.21", now)
	if got.InstanceID != "i-1" || got.ENIID != "eni-1" || got.AccountID != acct || got.Region != region || why != "" {
		t.Fatalf("fallback: %+v %q", got, why)
	}
	calls := ecsCalls(emu)
	if got, _ := name(r, "172.16.20.21", now); got.InstanceID != "i-1" || ecsCalls(emu) != calls {
		t.Fatalf("cached hit: %+v after %d calls", got, ecsCalls(emu)-calls)
	}
	if got, why := name(r, "172.16.20.99", now); got.InstanceID != "" || why != "" {
		t.Fatalf("miss: %+v %q", got, why)
	}
	calls = ecsCalls(emu)
	name(r, "172.16.20.99", now)
	if ecsCalls(emu) != calls {
		t.Fatal("miss not cached")
	}
	if ttl := rdb.TTL(ctx, "ndr:eni:vpc-1/172.16.20.99").Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("miss TTL %v", ttl)
	}
}

// A slow, unreachable or throttling ECS costs a name, never the answer:
// Name returns with a reason, and the failing account and region is not
// asked again for a while.
func TestFallbackFailuresLeaveTheNameEmptyAndOpenTheBreaker(t *testing.T) {
	for _, fault := range []string{"stalled", "unreachable", "throttling"} {
		t.Run(fault, func(t *testing.T) {
			inv := fresh(t)
			mustReplace(t, inv, natAsset())
			emu := emulator(t)
			emu.AddENI(acct, region, openapiemu.ENI{ID: "eni-1", InstanceID: "i-1", VPCID: "vpc-1", PrimaryIP: "172.16.20.21"})
			want := map[string]string{"stalled": "did not answer", "unreachable": "ECS lookup failed", "throttling": "Throttling"}[fault]
			switch fault {
			case "stalled":
				emu.StallRegion(region, time.Hour)
			case "unreachable":
				emu.DropRegion(region, true)
			case "throttling":
				emu.FailRegion(region, "Throttling.User")
			}
			r := resolver(inv)
			// Several endpoints of one batch: looked up concurrently.
			c, cancel := context.WithTimeout(ctx, 20*time.Second) // a guard only
			defer cancel()
			var ns []trace.Naming
			for i := range 20 {
				ns = append(ns, trace.Naming{Asset: &alert.Asset{PrivateIP: fmt.Sprintf("172.16.20.%d", 21+i), VPCID: "vpc-1"}, At: time.Now()})
			}
			r.Name(c, ns)
			for i, n := range ns {
				// The first failure pauses the lookups not yet made.
				if n.Asset.InstanceID != "" || !strings.Contains(n.Why, want) && (i == 0 || !strings.Contains(n.Why, "paused")) {
					t.Fatalf("%+v: %q, want %q", n.Asset, n.Why, want)
				}
			}
			if c.Err() != nil {
				t.Fatal("Name returned only when the guard ended")
			}
			// ECS is healthy again, but the breaker keeps it from being
			// asked (it would name the instance) for a while.
			emu.StallRegion(region, 0)
			emu.FailRegion(region, "")
			got, why := name(r, "172.16.20.21", time.Now())
			if got.InstanceID != "" || !strings.Contains(why, "paused") {
				t.Fatalf("breaker: %+v %q", got, why)
			}
			if rdb.Exists(ctx, "ndr:eni:vpc-1/172.16.20.21").Val() != 0 {
				t.Fatal("a failure was cached as an answer")
			}
			r2 := resolver(inv) // another instance's breaker is its own
			if got, why := name(r2, "172.16.20.21", time.Now()); got.InstanceID != "i-1" {
				t.Fatalf("healthy again: %+v %q", got, why)
			}
		})
	}
}
