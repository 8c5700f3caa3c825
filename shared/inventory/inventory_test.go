package inventory_test

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

var rdb *redis.Client

func TestMain(m *testing.M) { redisd.TestMain(m, &rdb) }

func fresh(t *testing.T) *inventory.Inventory {
	t.Helper()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return inventory.New(rdb)
}

const (
	acct   = "1234567890123456"
	region = "cn-hangzhou"
)

var (
	ctx    = context.Background()
	since  = time.Date(2025, 2, 5, 12, 0, 0, 0, time.UTC)
	eipNAT = netip.MustParseAddr("47.100.9.9")
	priNAT = netip.MustParseAddr("172.16.10.13")
	eipMB  = netip.MustParseAddr("47.100.1.85")
	albPub = netip.MustParseAddr("39.1.1.1")
	albPri = netip.MustParseAddr("192.168.0.10")
	clbVIP = netip.MustParseAddr("121.1.1.1")
	remote = netip.MustParseAddr("106.11.22.203")
)

func natAsset() inventory.Asset {
	return inventory.Asset{Kind: mapping.KindNAT, ID: "ngw-1", Account: acct, Region: region, VPC: "vpc-1", Mode: "NAT",
		Addrs:    []inventory.Addr{{Public: eipNAT, Private: priNAT}, {Public: eipMB}},
		Switches: inventory.All, Since: since, Logging: inventory.LogOn}
}

func albAsset() inventory.Asset {
	return inventory.Asset{Kind: mapping.KindALB, ID: "alb-1", Account: acct, Region: region, VPC: "vpc-1",
		Addrs:    []inventory.Addr{{Public: albPub, Private: albPri}},
		Switches: inventory.Switches{Attack: true}, Since: since, Logging: inventory.LogOn}
}

func clbAsset() inventory.Asset {
	return inventory.Asset{Kind: mapping.KindCLB, ID: "lb-1", Account: acct, Region: region, VPC: "vpc-2",
		Addrs: []inventory.Addr{{Public: clbVIP}}, Logging: inventory.LogOff}
}

func mustReplace(t *testing.T, inv *inventory.Inventory, as ...inventory.Asset) {
	t.Helper()
	if err := inv.ReplaceRegion(ctx, acct, region, as); err != nil {
		t.Fatal(err)
	}
}

func TestLookupEntries(t *testing.T) {
	inv := fresh(t)
	mustReplace(t, inv, natAsset(), albAsset(), clbAsset())

	es, err := inv.Lookup(ctx, eipNAT)
	if err != nil || len(es) != 1 {
		t.Fatalf("%v %v", es, err)
	}
	want := egress.Entry{Kind: mapping.KindNAT, ID: "ngw-1", PublicIP: eipNAT, PrivateIP: priNAT, VPC: "vpc-1", Account: acct, Region: region}
	if es[0] != want {
		t.Fatalf("NAT-mode EIP: %+v, want %+v", es[0], want)
	}
	// The twin is stored scoped by the VPC, as NAT ingest writes it.
	if got := es[0].StoredAs(); len(got) != 2 || got[1] != (mapping.Egress{Scope: "vpc-1", Addr: priNAT}) {
		t.Fatalf("stored as %v", got)
	}
	es, _ = inv.Lookup(ctx, eipMB)
	if len(es) != 1 || es[0].PrivateIP.IsValid() {
		t.Fatalf("multi-binded EIP: %+v", es)
	}
	es, _ = inv.Lookup(ctx, albPub)
	if len(es) != 1 || es[0].PrivateIP != albPri || es[0].Kind != mapping.KindALB || es[0].StoredAs()[1].Scope != "alb-1" {
		t.Fatalf("ALB: %+v", es)
	}
	if es, _ := inv.Lookup(ctx, remote); len(es) != 0 {
		t.Fatalf("unknown address: %+v", es)
	}
	// Mapped IPv4 finds the same entries.
	if es, _ := inv.Lookup(ctx, netip.AddrFrom16(clbVIP.As16())); len(es) != 1 || es[0].ID != "lb-1" {
		t.Fatalf("4in6: %+v", es)
	}
}

func TestFallbackBook(t *testing.T) {
	inv := fresh(t)
	static := egress.Static{remote: {{Kind: mapping.KindNAT, ID: "ngw-static", PublicIP: remote}}, eipNAT: {{Kind: mapping.KindNAT, ID: "ngw-old", PublicIP: eipNAT}}}
	book := inv.WithFallback(static)
	// Empty inventory: the static book answers.
	if es, _ := book.Lookup(ctx, eipNAT); len(es) != 1 || es[0].ID != "ngw-old" {
		t.Fatalf("%+v", es)
	}
	mustReplace(t, inv, natAsset())
	if es, _ := book.Lookup(ctx, eipNAT); len(es) != 1 || es[0].ID != "ngw-1" {
		t.Fatalf("inventory first: %+v", es)
	}
	if es, _ := book.Lookup(ctx, remote); len(es) != 1 || es[0].ID != "ngw-static" {
		t.Fatalf("fallback: %+v", es)
	}
}

func TestReplaceRegionReconciles(t *testing.T) {
	inv := fresh(t)
	mustReplace(t, inv, natAsset(), albAsset(), clbAsset())
	// The NAT gateway lost one EIP, the CLB is gone.
	n := natAsset()
	n.Addrs = n.Addrs[:1]
	mustReplace(t, inv, n, albAsset())
	if es, _ := inv.Lookup(ctx, eipMB); len(es) != 0 {
		t.Fatalf("released EIP still known: %+v", es)
	}
	if es, _ := inv.Lookup(ctx, clbVIP); len(es) != 0 {
		t.Fatalf("deleted CLB still known: %+v", es)
	}
	if _, ok, _ := inv.Asset(ctx, mapping.KindCLB, "lb-1"); ok {
		t.Fatal("deleted CLB record remains")
	}
	as, err := inv.RegionAssets(ctx, acct, region)
	if err != nil || len(as) != 2 {
		t.Fatalf("%+v %v", as, err)
	}
	got, ok, _ := inv.Asset(ctx, mapping.KindNAT, "ngw-1")
	if !ok || got.Mode != "NAT" || !got.Since.Equal(since) || got.Switches != inventory.All || len(got.Addrs) != 1 || got.Addrs[0] != n.Addrs[0] {
		t.Fatalf("round trip: %+v", got)
	}
	// Another region is untouched by this one's replacement.
	other := clbAsset()
	other.Region = "cn-shanghai"
	if err := inv.ReplaceRegion(ctx, acct, "cn-shanghai", []inventory.Asset{other}); err != nil {
		t.Fatal(err)
	}
	if as, _ := inv.RegionAssets(ctx, acct, region); len(as) != 2 {
		t.Fatalf("%+v", as)
	}
	if acc, reg, ok, _ := inv.VPC(ctx, "vpc-1"); !ok || acc != acct || reg != region {
		t.Fatalf("vpc: %s %s %v", acc, reg, ok)
	}
	keys, _ := rdb.Keys(ctx, "*").Result()
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "ndr:inv:") {
			t.Fatalf("unexpected key %s", k)
		}
	}
}

func TestReplaceRegionRejectsBadValues(t *testing.T) {
	inv := fresh(t)
	for _, mod := range []func(*inventory.Asset){
		func(a *inventory.Asset) { a.ID = "ngw-1|x" },
		func(a *inventory.Asset) { a.VPC = "vpc 1" },
		func(a *inventory.Asset) { a.Region = "cn-hangzhou:x" },
		func(a *inventory.Asset) { a.Addrs = []inventory.Addr{{}} },
		func(a *inventory.Asset) { a.Account = "999" }, // not the region's account
	} {
		a := natAsset()
		mod(&a)
		if err := inv.ReplaceRegion(ctx, acct, region, []inventory.Asset{a}); err == nil {
			t.Fatalf("accepted %+v", a)
		}
	}
	if n, _ := rdb.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("%d keys written", n)
	}
}

func mkAlert(src, dst netip.Addr, at time.Time, category alert.Category) *alert.Alert {
	return &alert.Alert{ID: "a", Time: at, Category: category, Tuple: tuple.FiveTuple{Proto: tuple.TCP,
		Src: tuple.Endpoint{Addr: src, Port: 40000}, Dst: tuple.Endpoint{Addr: dst, Port: 443}}}
}

func TestCoverage(t *testing.T) {
	inv := fresh(t)
	after := since.Add(time.Hour)
	// Empty inventory: neither verdict.
	if v, err := inv.Check(ctx, mkAlert(eipNAT, remote, after, alert.Attack)); err != nil || v != (trace.Verdict{}) {
		t.Fatalf("empty: %+v %v", v, err)
	}
	mustReplace(t, inv, natAsset(), albAsset(), clbAsset())

	tests := []struct {
		name       string
		a          *alert.Alert
		notCovered string // substring; "" when covered
		unknown    bool
	}{
		{"covered, either orientation", mkAlert(remote, eipNAT, after, alert.Attack), "", false},
		{"covered, sensitive data", mkAlert(eipMB, remote, after, alert.SensitiveData), "", false},
		{"default category is attack", mkAlert(albPub, remote, after, ""), "", false},
		{"switch off for the category", mkAlert(remote, albPub, after, alert.SensitiveData), "sensitive_data alerts switched off", false},
		{"not onboarded", mkAlert(remote, clbVIP, after, alert.Attack), "not onboarded", false},
		{"before coverage", mkAlert(eipNAT, remote, since.Add(-time.Minute), alert.Attack), "predates the coverage", false},
		{"at coverage start", mkAlert(eipNAT, remote, since, alert.Attack), "", false},
		{"unknown but not filled", mkAlert(remote, netip.MustParseAddr("8.8.8.8"), after, alert.Attack), "", false},
	}
	run := func() {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				v, err := inv.Check(ctx, tt.a)
				if err != nil {
					t.Fatal(err)
				}
				if v.Unknown != tt.unknown || (tt.notCovered == "") != (v.NotCovered == "") || !strings.Contains(v.NotCovered, tt.notCovered) {
					t.Fatalf("verdict %+v, want unknown=%v not covered %q", v, tt.unknown, tt.notCovered)
				}
			})
		}
	}
	run()
	if _, ok, _ := inv.Filled(ctx); ok {
		t.Fatal("filled before MarkFilled")
	}
	if err := inv.MarkFilled(ctx, since); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := inv.Filled(ctx); !ok || !at.Equal(since) {
		t.Fatalf("filled %v %v", at, ok)
	}
	tests[len(tests)-1].unknown = true
	tests[len(tests)-1].name = "unknown once filled"
	run()

	// asset_type / asset_id narrow what counts.
	a := mkAlert(eipNAT, remote, after, alert.Attack)
	a.AssetType = mapping.KindALB
	if v, _ := inv.Check(ctx, a); !v.Unknown {
		t.Fatalf("asset_type alb on a NAT address: %+v", v)
	}
	// A pay-by-spec gateway: onboarded, never logging.
	p := natAsset()
	p.ID, p.Addrs, p.Since, p.Logging = "ngw-spec", []inventory.Addr{{Public: netip.MustParseAddr("47.1.1.1")}}, time.Time{}, inventory.LogUnsupported
	mustReplace(t, inv, natAsset(), albAsset(), clbAsset(), p)
	if v, _ := inv.Check(ctx, mkAlert(netip.MustParseAddr("47.1.1.1"), remote, after, alert.Attack)); !strings.Contains(v.NotCovered, "pay-by-specification") {
		t.Fatalf("pay-by-spec: %+v", v)
	}
}

func TestAccounts(t *testing.T) {
	inv := fresh(t)
	const role = "acs:ram::2000000000000002:role/ndrtrace-onboard"
	if err := inv.SetAccount(ctx, "2000000000000002", role); err != nil {
		t.Fatal(err)
	}
	if err := inv.SetAccount(ctx, acct, ""); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := inv.Account(ctx, "2000000000000002"); r != role || !ok || err != nil {
		t.Fatalf("%q %v %v", r, ok, err)
	}
	if r, ok, _ := inv.Account(ctx, acct); r != "" || !ok {
		t.Fatalf("own: %q %v", r, ok)
	}
	if _, ok, _ := inv.Account(ctx, "3"); ok {
		t.Fatal("unknown account known")
	}
	if err := inv.SetAccount(ctx, "2", "arn:aws:iam::2:role/x"); err == nil {
		t.Fatal("accepted a foreign ARN")
	}
	if inventory.RoleAccount(role) != "2000000000000002" || inventory.RoleAccount("acs:ram::x:role/y") != "" {
		t.Fatal("RoleAccount")
	}
}

func TestParseSwitches(t *testing.T) {
	for in, want := range map[string]inventory.Switches{
		"all": inventory.All, "": inventory.All, "ALL": inventory.All, "attack": {Attack: true},
		"sensitive_data": {SensitiveData: true}, "attack, sensitive_data": inventory.All, "none": {},
	} {
		if got, err := inventory.ParseSwitches(in); err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{"yes please", "attack,exfil", ","} {
		if _, err := inventory.ParseSwitches(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// Every key onboarding writes expires: a retired deployment or a region no
// longer listed leaves nothing for good. The whole write path is run (the
// address book, accounts, the fill mark, VPCs), then each key's TTL read.
func TestEveryKeyExpires(t *testing.T) {
	inv := fresh(t)
	mustReplace(t, inv, natAsset(), albAsset(), clbAsset())
	n := natAsset()
	n.Addrs = n.Addrs[:1] // a rewrite that drops an address keeps the rest's TTL
	mustReplace(t, inv, n, albAsset())
	if err := inv.SetAccount(ctx, "2000000000000002", "acs:ram::2000000000000002:role/ndrtrace-onboard"); err != nil {
		t.Fatal(err)
	}
	if err := inv.MarkFilled(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "ndr:*").Result()
	if err != nil || len(keys) < 6 {
		t.Fatalf("%d keys (%v): the write path wrote less than expected", len(keys), err)
	}
	for _, k := range keys {
		ttl, err := rdb.TTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > inventory.TTL {
			t.Errorf("%s: TTL %v (%v), want within (0, %v]", k, ttl, err, inventory.TTL)
		}
	}
}
