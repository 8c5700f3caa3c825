package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Onboarding tests give every scenario its own Redis database (so a filled
// inventory never leaks into the other tests' traces) and their own regions
// in the OpenAPI emulator (resources are per account and region there).

const (
	tagKey     = "ndr-trace"
	member     = "2000000000000002"
	memberRole = "acs:ram::2000000000000002:role/ndrtrace-onboard"
	retention  = 14
)

var redisDB atomic.Int64

// testRedis returns the URL of a fresh database of the local redis-server
// and a client for it.
func testRedis(t *testing.T) (string, *redis.Client) {
	t.Helper()
	n := redisDB.Add(1)
	if n > 15 {
		t.Fatal("out of Redis databases")
	}
	opt, err := redis.ParseURL(lc.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	opt.DB = int(n)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("redis://%s/%d", opt.Addr, n), rdb
}

func startFn(t *testing.T, name string, env map[string]string) *fcemu.Runtime {
	t.Helper()
	rt, err := lc.Function(context.Background(), name, env, func(f *fcemu.Function) { f.Timeout = 30 * time.Second })
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func startOnboard(t *testing.T, redisURL, accounts string, extra map[string]string) *fcemu.Runtime {
	t.Helper()
	env := map[string]string{"REDIS_URL": redisURL, "ONBOARD_ACCOUNTS": accounts, "ONBOARD_RETENTION_DAYS": strconv.Itoa(retention)}
	for k, v := range extra {
		env[k] = v
	}
	return startFn(t, "onboard", env)
}

func runOnboard(t *testing.T, rt *fcemu.Runtime, event []byte) onboard.Summary {
	t.Helper()
	res := invoke(t, rt, event)
	if res.Error != nil {
		t.Fatalf("onboard failed: %v", res.Error)
	}
	var s onboard.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		t.Fatalf("summary %s: %v", res.Payload, err)
	}
	return s
}

func regionOf(t *testing.T, s onboard.Summary, account, region string) *onboard.RegionResult {
	t.Helper()
	for _, r := range s.Results {
		if r.AccountID == account && r.Region == region {
			return r
		}
	}
	t.Fatalf("no result for %s/%s in %+v", account, region, s.Results)
	return nil
}

func ownAccounts(regions ...string) string {
	b, _ := json.Marshal([]map[string]any{{"regions": regions}})
	return string(b)
}

func projectOf(account, region string) string { return "ndr-logs-" + account + "-" + region }

// cloudWrites are the calls that change cloud state.
func cloudWrites(calls []openapiemu.Call) []string {
	var out []string
	for _, c := range calls {
		for _, p := range []string{"Modify", "Enable", "Set", "Disable", "Create", "Delete"} {
			if strings.HasPrefix(c.Action, p) {
				out = append(out, c.Action+" "+c.Params["NatGatewayId"]+c.Params["LoadBalancerId"])
			}
		}
	}
	return out
}

// slsWrites are the non-GET requests to a project since the n-th request.
func slsWrites(srv *slsemu.Server, project string, since int) []string {
	var out []string
	for _, r := range srv.Requests()[since:] {
		if r.Project == project && r.Method != "GET" {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// checkLogstore asserts a logstore's retention and the doc_value fields of
// its index.
func checkLogstore(t *testing.T, srv *slsemu.Server, project, logstore string, fields ...string) {
	t.Helper()
	ttl, _, index, ok := srv.Logstore(project, logstore)
	if !ok {
		t.Fatalf("logstore %s/%s does not exist", project, logstore)
	}
	if ttl != retention {
		t.Fatalf("%s/%s ttl %d, want %d", project, logstore, ttl, retention)
	}
	var idx struct {
		Keys map[string]struct {
			Type     string `json:"type"`
			DocValue bool   `json:"doc_value"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		t.Fatalf("index of %s/%s: %v: %s", project, logstore, err, index)
	}
	for _, f := range fields {
		if k, ok := idx.Keys[f]; !ok || !k.DocValue {
			t.Fatalf("index of %s/%s: %s has no doc_value (%+v)", project, logstore, f, idx.Keys[f])
		}
	}
}

var (
	natFields = []string{"pub_ip", "pri_ip", "nat_ip", "nat_port", "pub_port", "protocol", "bytes_from_vpc", "bytes_from_pub", "start_time", "end_time"}
	lbFields  = []string{"client_ip", "client_port", "vip_addr", "slb_vport", "upstream_addr", "status", "time", "request_time", "http_x_forwarded_for", "host", "request_uri"}
)

func TestOnboardEnablesTaggedAssetsOnce(t *testing.T) {
	const region = "cn-qingdao"
	emu, acct := lc.OpenAPI, lc.Account
	all := map[string]string{tagKey: "all"}
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-qd-tagged", VPCID: "vpc-qd", Tags: all,
		IPs: []openapiemu.NATIP{{EIP: "47.102.1.1", PrivateIP: "172.16.1.1", AllocationID: "eip-qd1"}}})
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-qd-plain", VPCID: "vpc-qd",
		IPs: []openapiemu.NATIP{{EIP: "47.102.1.2"}}})
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-qd-spec", VPCID: "vpc-qd", Tags: all,
		InternetChargeType: "PayBySpec", Spec: "Small", IPs: []openapiemu.NATIP{{EIP: "47.102.1.3"}}})
	emu.AddALB(acct, region, openapiemu.ALB{ID: "alb-qd-tagged", VPCID: "vpc-qd", Tags: map[string]string{tagKey: "attack"},
		Addresses: []openapiemu.ALBAddress{{ZoneID: region + "-b", Address: "39.102.1.1", IntranetAddress: "192.168.1.1"}}})
	emu.AddALB(acct, region, openapiemu.ALB{ID: "alb-qd-plain", VPCID: "vpc-qd",
		Addresses: []openapiemu.ALBAddress{{Address: "39.102.1.2", IntranetAddress: "192.168.1.2"}}})
	emu.AddCLB(acct, region, openapiemu.CLB{ID: "lb-qd-tagged", VPCID: "vpc-qd", Address: "121.102.1.1", Tags: all})
	emu.AddCLB(acct, region, openapiemu.CLB{ID: "lb-qd-plain", VPCID: "vpc-qd", Address: "121.102.1.2"})

	url, rdb := testRedis(t)
	rt := startOnboard(t, url, ownAccounts(region), nil)
	project := projectOf(acct, region)

	// First run: exactly the tagged assets, into prepared logstores.
	s := runOnboard(t, rt, sample(t, "onboard/timer.json"))
	r := regionOf(t, s, acct, region)
	if r.Status != onboard.StatusOK || fmt.Sprint(r.Enabled) != "[ngw-qd-tagged alb-qd-tagged lb-qd-tagged]" ||
		len(r.Discovered) != 7 || len(r.AlreadyEnabled) != 0 || len(r.Failed) != 0 || !s.InventoryFilled {
		t.Fatalf("first run: %+v", r)
	}
	if len(r.Skipped) != 1 || r.Skipped[0].ID != "ngw-qd-spec" || !strings.Contains(r.Skipped[0].Reason, "pay-by-specification") {
		t.Fatalf("pay-by-spec gateway: %+v", r.Skipped)
	}
	g, _ := emu.NATGateway(acct, region, "ngw-qd-tagged")
	if want := "acs:log:" + region + ":" + acct + ":project/" + project + "/logstore/nat-sessions"; !g.SessionLogEnabled || g.LogDestination != want {
		t.Fatalf("tagged gateway: enabled %v to %q, want %q", g.SessionLogEnabled, g.LogDestination, want)
	}
	for _, id := range []string{"ngw-qd-plain", "ngw-qd-spec"} {
		if g, _ := emu.NATGateway(acct, region, id); g.SessionLogEnabled || g.LogDestination != "" {
			t.Fatalf("%s was changed: %+v", id, g)
		}
	}
	if a, _ := emu.ALB(acct, region, "alb-qd-tagged"); a.LogProject != project || a.LogStore != "alb-access" {
		t.Fatalf("tagged ALB: %+v", a)
	}
	if a, _ := emu.ALB(acct, region, "alb-qd-plain"); a.LogProject != "" {
		t.Fatalf("untagged ALB was changed: %+v", a)
	}
	if l, _ := emu.CLB(acct, region, "lb-qd-tagged"); l.LogProject != project || l.LogStore != "clb-access" {
		t.Fatalf("tagged CLB: %+v", l)
	}
	if l, _ := emu.CLB(acct, region, "lb-qd-plain"); l.LogProject != "" {
		t.Fatalf("untagged CLB was changed: %+v", l)
	}
	checkLogstore(t, lc.SLS, project, "nat-sessions", natFields...)
	checkLogstore(t, lc.SLS, project, "alb-access", lbFields...)
	checkLogstore(t, lc.SLS, project, "clb-access", lbFields...)

	// Second run: nothing to do, and nothing is written.
	emu.ResetCalls()
	before := len(lc.SLS.Requests())
	s = runOnboard(t, rt, sample(t, "onboard/timer.json"))
	r = regionOf(t, s, acct, region)
	if w := cloudWrites(emu.Calls()); len(w) != 0 {
		t.Fatalf("second run wrote to the cloud: %v", w)
	}
	if w := slsWrites(lc.SLS, project, before); len(w) != 0 {
		t.Fatalf("second run wrote to SLS: %v", w)
	}
	if len(r.Enabled) != 0 || fmt.Sprint(r.AlreadyEnabled) != "[ngw-qd-tagged alb-qd-tagged lb-qd-tagged]" {
		t.Fatalf("second run: %+v", r)
	}

	// A newly tagged gateway is picked up, and only it.
	emu.SetTags(acct, region, "ngw-qd-plain", map[string]string{tagKey: "attack"})
	emu.ResetCalls()
	r = regionOf(t, runOnboard(t, rt, nil), acct, region)
	if fmt.Sprint(r.Enabled) != "[ngw-qd-plain]" || fmt.Sprint(cloudWrites(emu.Calls())) != "[ModifyNatGatewayAttribute ngw-qd-plain]" {
		t.Fatalf("newly tagged: %+v, writes %v", r, cloudWrites(emu.Calls()))
	}

	// Untagging switches traceability off; logging stays on.
	inv := inventory.New(rdb)
	emu.SetTags(acct, region, "lb-qd-tagged", nil)
	r = regionOf(t, runOnboard(t, rt, nil), acct, region)
	if fmt.Sprint(r.Untagged) != "[lb-qd-tagged]" || len(r.Disabled) != 0 {
		t.Fatalf("untagged: %+v", r)
	}
	if l, _ := emu.CLB(acct, region, "lb-qd-tagged"); l.LogProject != project {
		t.Fatalf("access log of the untagged CLB was switched off: %+v", l)
	}
	a, ok, err := inv.Asset(context.Background(), mapping.KindCLB, "lb-qd-tagged")
	if err != nil || !ok || a.Switches.Any() || a.Logging != inventory.LogOn {
		t.Fatalf("inventory of the untagged CLB: %+v %v %v", a, ok, err)
	}
	v, err := inv.Check(context.Background(), &alert.Alert{Time: time.Now(), Category: alert.Attack,
		Tuple: tuple.FiveTuple{Proto: tuple.TCP, Src: tuple.Endpoint{Addr: netip.MustParseAddr("1.2.3.4"), Port: 5555},
			Dst: tuple.Endpoint{Addr: netip.MustParseAddr("121.102.1.1"), Port: 443}}})
	if err != nil || !strings.Contains(v.NotCovered, "not onboarded") {
		t.Fatalf("coverage of the untagged CLB: %+v %v", v, err)
	}
}

func TestOnboardMemberAccountThroughAssumeRole(t *testing.T) {
	const region = "cn-zhangjiakou"
	emu := lc.OpenAPI
	emu.AddRole(member, memberRole, lc.Account)
	// The roles its ETL jobs ship with (member-role and the central sink).
	emu.AddRole(member, cloud.ETLReaderRole(member))
	lc.TrustETLSink(member)
	emu.AddNATGateway(member, region, openapiemu.NATGateway{ID: "ngw-zjk-member", VPCID: "vpc-zjk-m",
		Tags: map[string]string{tagKey: "all"}, IPs: []openapiemu.NATIP{{EIP: "47.104.1.1"}}})
	emu.AddALB(member, region, openapiemu.ALB{ID: "alb-zjk-member", VPCID: "vpc-zjk-m", Tags: map[string]string{tagKey: "all"},
		Addresses: []openapiemu.ALBAddress{{Address: "39.104.1.1", IntranetAddress: "192.168.4.1"}}})
	emu.AddNATGateway(lc.Account, region, openapiemu.NATGateway{ID: "ngw-zjk-own", VPCID: "vpc-zjk",
		Tags: map[string]string{tagKey: "all"}, IPs: []openapiemu.NATIP{{EIP: "47.104.2.1"}}})

	url, rdb := testRedis(t)
	accounts := fmt.Sprintf(`[{"regions":[%q]},{"role_arn":%q,"regions":[%q]}]`, region, memberRole, region)
	rt := startOnboard(t, url, accounts, nil)
	emu.ResetCalls()
	memberSLS := lc.AccountSLS(member)
	s := runOnboard(t, rt, nil)
	if r := regionOf(t, s, lc.Account, region); fmt.Sprint(r.Enabled) != "[ngw-zjk-own]" {
		t.Fatalf("own account: %+v", r)
	}
	r := regionOf(t, s, member, region)
	if r.Status != onboard.StatusOK || fmt.Sprint(r.Enabled) != "[ngw-zjk-member alb-zjk-member]" {
		t.Fatalf("member account: %+v", r)
	}
	// The member's resources were changed by the member, through the role.
	var assumed, modified bool
	for _, c := range emu.Calls() {
		switch {
		case c.Action == "AssumeRole" && c.Account == lc.Account && c.Params["RoleArn"] == memberRole && c.Code == "":
			assumed = true
		case c.Action == "ModifyNatGatewayAttribute" && c.Params["NatGatewayId"] == "ngw-zjk-member":
			modified = c.Account == member && c.AccessKeyID != lc.Creds.AccessKeyID
		}
	}
	if !assumed || !modified {
		t.Fatalf("assumed %v, modified as the member %v: %+v", assumed, modified, emu.Calls())
	}
	g, _ := emu.NATGateway(member, region, "ngw-zjk-member")
	if want := "acs:log:" + region + ":" + member + ":project/" + projectOf(member, region) + "/logstore/nat-sessions"; g.LogDestination != want {
		t.Fatalf("member destination %q, want %q", g.LogDestination, want)
	}
	// Its logstores live in its own SLS, written with the assumed credentials.
	checkLogstore(t, memberSLS, projectOf(member, region), "nat-sessions", natFields...)
	checkLogstore(t, memberSLS, projectOf(member, region), "alb-access", lbFields...)
	if _, _, _, ok := lc.SLS.Logstore(projectOf(member, region), "nat-sessions"); ok {
		t.Fatal("the member's logstore was created in the own account's SLS")
	}
	for _, req := range memberSLS.Requests() {
		if req.AccessKeyID == lc.Creds.AccessKeyID || !strings.HasPrefix(req.AccessKeyID, "STS.") || req.Status != 200 && req.Method != "GET" {
			t.Fatalf("member SLS request %+v", req)
		}
	}
	if role, known, _ := inventory.New(rdb).Account(context.Background(), member); !known || role != memberRole {
		t.Fatalf("inventory role of the member: %q %v", role, known)
	}
	// And a second run changes nothing there either.
	emu.ResetCalls()
	before := len(memberSLS.Requests())
	runOnboard(t, rt, nil)
	if w := cloudWrites(emu.Calls()); len(w) != 0 {
		t.Fatalf("second run wrote: %v", w)
	}
	if w := slsWrites(memberSLS, projectOf(member, region), before); len(w) != 0 {
		t.Fatalf("second run wrote to the member's SLS: %v", w)
	}
}

func TestOnboardSurvivesThrottlingAndAFailingRegion(t *testing.T) {
	const good, bad = "cn-huhehaote", "cn-wulanchabu"
	emu := lc.OpenAPI
	emu.AddNATGateway(lc.Account, good, openapiemu.NATGateway{ID: "ngw-hhht", VPCID: "vpc-hhht",
		Tags: map[string]string{tagKey: "all"}, IPs: []openapiemu.NATIP{{EIP: "47.105.1.1"}}})
	emu.AddNATGateway(lc.Account, bad, openapiemu.NATGateway{ID: "ngw-wlcb", VPCID: "vpc-wlcb",
		Tags: map[string]string{tagKey: "all"}, IPs: []openapiemu.NATIP{{EIP: "47.105.2.1"}}})

	url, rdb := testRedis(t)
	rt := startOnboard(t, url, ownAccounts(bad, good), nil)
	emu.ResetCalls()
	emu.FailRegion(bad, "Forbidden.RAM")
	defer emu.FailRegion(bad, "")
	emu.FailNext("DescribeNatGateways", 2, "Throttling.User", 0)
	emu.FailNext("ModifyNatGatewayAttribute", 1, "Throttling.User", 0)

	s := runOnboard(t, rt, nil)
	rb, rg := regionOf(t, s, lc.Account, bad), regionOf(t, s, lc.Account, good)
	if rb.Status != onboard.StatusFailed || !strings.Contains(rb.Error, "Forbidden.RAM") {
		t.Fatalf("failing region: %+v", rb)
	}
	if rg.Status != onboard.StatusOK || fmt.Sprint(rg.Enabled) != "[ngw-hhht]" {
		t.Fatalf("healthy region: %+v", rg)
	}
	if s.InventoryFilled {
		t.Fatal("a run with a failed region marked the inventory filled")
	}
	throttled := 0
	for _, c := range emu.Calls() {
		if c.Code == "Throttling.User" {
			throttled++
		}
	}
	if g, _ := emu.NATGateway(lc.Account, good, "ngw-hhht"); throttled != 3 || !g.SessionLogEnabled {
		t.Fatalf("throttled %d times, enabled %v", throttled, g.SessionLogEnabled)
	}
	if g, _ := emu.NATGateway(lc.Account, bad, "ngw-wlcb"); g.SessionLogEnabled {
		t.Fatal("the failing region was changed")
	}
	inv := inventory.New(rdb)
	if _, ok, _ := inv.Asset(context.Background(), mapping.KindNAT, "ngw-hhht"); !ok {
		t.Fatal("the healthy region is not in the inventory")
	}

	// Once the region recovers, the next run completes and fills the inventory.
	emu.FailRegion(bad, "")
	s = runOnboard(t, rt, nil)
	if !s.InventoryFilled || fmt.Sprint(regionOf(t, s, lc.Account, bad).Enabled) != "[ngw-wlcb]" {
		t.Fatalf("recovered: %+v", s.Results)
	}
	if _, ok, _ := inv.Filled(context.Background()); !ok {
		t.Fatal("inventory not marked filled")
	}
}

func TestOnboardDryRunChangesNothing(t *testing.T) {
	const region = "cn-chengdu"
	emu := lc.OpenAPI
	emu.AddNATGateway(lc.Account, region, openapiemu.NATGateway{ID: "ngw-cd", VPCID: "vpc-cd",
		Tags: map[string]string{tagKey: "all"}, IPs: []openapiemu.NATIP{{EIP: "47.106.1.1"}}})
	emu.AddALB(lc.Account, region, openapiemu.ALB{ID: "alb-cd", VPCID: "vpc-cd", Tags: map[string]string{tagKey: "all"},
		Addresses: []openapiemu.ALBAddress{{Address: "39.106.1.1"}}})
	url, rdb := testRedis(t)
	project := projectOf(lc.Account, region)

	for name, run := range map[string]func() onboard.Summary{
		"timer payload": func() onboard.Summary {
			return runOnboard(t, startOnboard(t, url, ownAccounts(region), nil), sample(t, "onboard/dry-run.json"))
		},
		"direct invocation": func() onboard.Summary {
			return runOnboard(t, startOnboard(t, url, ownAccounts(region), nil), []byte(`{"dry_run":true}`))
		},
		"ONBOARD_DRY_RUN": func() onboard.Summary {
			return runOnboard(t, startOnboard(t, url, ownAccounts(region), map[string]string{"ONBOARD_DRY_RUN": "true"}), sample(t, "onboard/timer.json"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			emu.ResetCalls()
			before := len(lc.SLS.Requests())
			s := run()
			r := regionOf(t, s, lc.Account, region)
			if !s.DryRun || s.InventoryFilled || fmt.Sprint(r.Enabled) != "[ngw-cd alb-cd]" {
				t.Fatalf("summary: %+v %+v", s, r)
			}
			for _, want := range []string{"create project " + project, "create logstore " + project + "/nat-sessions", "enable session log of nat ngw-cd"} {
				if !slices.ContainsFunc(r.Actions, func(a string) bool { return strings.HasPrefix(a, want) }) {
					t.Fatalf("actions %q lack %q", r.Actions, want)
				}
			}
			if w := cloudWrites(emu.Calls()); len(w) != 0 {
				t.Fatalf("dry run wrote to the cloud: %v", w)
			}
			if w := slsWrites(lc.SLS, project, before); len(w) != 0 {
				t.Fatalf("dry run wrote to SLS: %v", w)
			}
			if g, _ := emu.NATGateway(lc.Account, region, "ngw-cd"); g.SessionLogEnabled {
				t.Fatal("dry run enabled session logs")
			}
			if n := rdb.DBSize(context.Background()).Val(); n != 0 {
				t.Fatalf("dry run wrote %d inventory keys", n)
			}
		})
	}
}

// natSession is a session record of a given gateway.
func natSession(instance, vpc, natIP string, natPort int, pri, pub string, start, end time.Time) map[string]string {
	r := session(natIP, natPort, pri, pub, start, end)
	r["instance"], r["vpc_id"] = instance, vpc
	return r
}

func categoryAlert(id, src string, sport int, dst string, dport int, at time.Time, category string) []byte {
	return []byte(fmt.Sprintf(`{"alert_id":%q,"time":%q,"protocol":"tcp","src_ip":%q,"src_port":%d,"dst_ip":%q,"dst_port":%d,"category":%q}`,
		id, at.Format(time.RFC3339), src, sport, dst, dport, category))
}

func TestTraceNamesInstancesFromTheInventory(t *testing.T) {
	const region = "cn-shenzhen"
	const (
		eipNAT, eipNATPri = "47.103.1.1", "172.16.10.13" // NAT mode: logs name it 172.16.10.13
		eipSens           = "47.103.1.2"                 // sensitive_data only
		eipMember         = "47.103.2.1"
		remote            = "106.11.22.203"
	)
	emu, acct := lc.OpenAPI, lc.Account
	emu.AddRole(member, memberRole, acct)
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-sz-natmode", VPCID: "vpc-sz", EipBindMode: "NAT",
		Tags: map[string]string{tagKey: "all"}, IPs: []openapiemu.NATIP{{EIP: eipNAT, PrivateIP: eipNATPri}}})
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-sz-sensitive", VPCID: "vpc-sz",
		Tags: map[string]string{tagKey: "sensitive_data"}, IPs: []openapiemu.NATIP{{EIP: eipSens}}})
	emu.AddNATGateway(member, region, openapiemu.NATGateway{ID: "ngw-sz-member", VPCID: "vpc-sz-m",
		Tags: map[string]string{tagKey: "all"}, IPs: []openapiemu.NATIP{{EIP: eipMember}}})
	emu.AddENI(acct, region, openapiemu.ENI{ID: "eni-sz-a", InstanceID: "i-sz-a", VPCID: "vpc-sz", PrimaryIP: "172.16.20.21"})
	emu.AddENI(acct, region, openapiemu.ENI{ID: "eni-sz-b", InstanceID: "i-sz-b", VPCID: "vpc-sz", PrimaryIP: "172.16.20.100",
		SecondaryIPs: []string{"172.16.20.22"}})
	emu.AddENI(member, region, openapiemu.ENI{ID: "eni-sz-m", InstanceID: "i-sz-m", VPCID: "vpc-sz-m", PrimaryIP: "10.0.1.5"})

	// A real onboarding run fills the inventory.
	url, _ := testRedis(t)
	accounts := fmt.Sprintf(`[{"regions":[%q]},{"role_arn":%q,"regions":[%q]}]`, region, memberRole, region)
	s := runOnboard(t, startOnboard(t, url, accounts, nil), nil)
	if !s.InventoryFilled {
		t.Fatalf("onboarding: %+v", s.Results)
	}
	since := s.StartedAt

	// Session logs arrive in the logstore onboarding prepared (the member's
	// in a scratch logstore: its own ingest would read its own SLS).
	now := time.Now()
	start, end := now.Add(-time.Minute), now.Add(9*time.Minute)
	project := projectOf(acct, region)
	begin, last, err := lc.Put(project, "nat-sessions", "", now, []map[string]string{
		natSession("ngw-sz-natmode", "vpc-sz", eipNATPri, 50001, "172.16.20.21", remote, start, end),
		natSession("ngw-sz-natmode", "vpc-sz", eipNATPri, 50002, "172.16.20.22", remote, start, end),
		natSession("ngw-sz-sensitive", "vpc-sz", eipSens, 50003, "172.16.20.23", remote, start, end),
	})
	if err != nil {
		t.Fatal(err)
	}
	nat := startFn(t, "nat-ingest", map[string]string{"REDIS_URL": url})
	ingestAt := func(project, ls, begin, end string) {
		res := invoke(t, nat, cloud.TriggerEvent(project, ls, begin, end))
		if res.Error != nil {
			t.Fatalf("ingest: %v", res.Error)
		}
	}
	ingestAt(project, "nat-sessions", begin, last)
	scratch := uniq("member-nat")
	lc.Logstore("ndr-logs", scratch)
	b2, e2, err := lc.Put("ndr-logs", scratch, "", now, []map[string]string{
		natSession("ngw-sz-member", "vpc-sz-m", eipMember, 50010, "10.0.1.5", remote, start, end)})
	if err != nil {
		t.Fatal(err)
	}
	ingestAt("ndr-logs", scratch, b2, e2)

	// No EGRESS_ADDRESSES: the inventory is the address book.
	// A long wall: a not-covered answer must come at once, not at the wall.
	tr := startFn(t, "trace", map[string]string{"REDIS_URL": url, "TRACE_MAX_WAIT": "60s"})
	at := time.Now()
	tests := []struct {
		name   string
		body   []byte
		status alert.Status
		asset  alert.Asset
		reason string
	}{
		{"NAT-mode EIP translated, primary ENI", categoryAlert("sz-1", eipNAT, 50001, remote, 443, at, "attack"), alert.Traced,
			alert.Asset{PrivateIP: "172.16.20.21", VPCID: "vpc-sz", InstanceID: "i-sz-a", ENIID: "eni-sz-a", AccountID: acct, Region: region}, ""},
		{"secondary address", categoryAlert("sz-2", remote, 443, eipNAT, 50002, at, "attack"), alert.Traced,
			alert.Asset{PrivateIP: "172.16.20.22", VPCID: "vpc-sz", InstanceID: "i-sz-b", ENIID: "eni-sz-b", AccountID: acct, Region: region}, ""},
		{"member account through its role", categoryAlert("sz-3", eipMember, 50010, remote, 443, at, "attack"), alert.Traced,
			alert.Asset{PrivateIP: "10.0.1.5", VPCID: "vpc-sz-m", InstanceID: "i-sz-m", ENIID: "eni-sz-m", AccountID: member, Region: region}, ""},
		{"category switched on", categoryAlert("sz-4", eipSens, 50003, remote, 443, at, "sensitive_data"), alert.Traced,
			alert.Asset{PrivateIP: "172.16.20.23", VPCID: "vpc-sz", AccountID: acct, Region: region}, ""},
		{"category switched off", categoryAlert("sz-5", eipSens, 50003, remote, 443, at, "attack"), alert.NotCovered,
			alert.Asset{}, "attack alerts switched off"},
		{"alert before coverage_since", categoryAlert("sz-6", eipNAT, 50001, remote, 443, since.Add(-time.Hour), "attack"), alert.NotCovered,
			alert.Asset{}, "predates the coverage"},
		{"unknown address once filled", categoryAlert("sz-7", "8.8.4.4", 1234, "1.0.0.1", 443, at, "attack"), alert.NotCovered,
			alert.Asset{}, "neither address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu.ResetCalls()
			r := traceDirect(t, tr, tt.body)
			if r.Status != tt.status || !strings.Contains(r.Reason, tt.reason) {
				t.Fatalf("status %s (%s), want %s (%s)", r.Status, r.Reason, tt.status, tt.reason)
			}
			if tt.status != alert.Traced {
				if r.WaitedMS >= 30000 {
					t.Fatalf("waited %dms for a not covered alert", r.WaitedMS)
				}
				return
			}
			got := *r.Asset
			got.PrivatePort = 0
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.asset) {
				t.Fatalf("asset %+v, want %+v (reason %q)", got, tt.asset, r.Reason)
			}
			if r.Egress == nil || r.Egress.Type != "nat" || r.Egress.ID == "" {
				t.Fatalf("egress %+v", r.Egress)
			}
			// Named from the address history onboarding recorded (the
			// member's through its role): trace asks ECS nothing. (An
			// address no ENI held at onboarding is asked once.)
			for _, c := range emu.Calls() {
				if c.Action == "DescribeNetworkInterfaces" && tt.asset.InstanceID != "" {
					t.Fatalf("trace called ECS for an address the history knows: %+v", c)
				}
			}
		})
	}

	// Instance names are cached: the same endpoint again asks ECS nothing.
	emu.ResetCalls()
	if r := traceDirect(t, tr, categoryAlert("sz-8", eipNAT, 50001, remote, 443, at, "attack")); r.Asset == nil || r.Asset.InstanceID != "i-sz-a" {
		t.Fatalf("again: %+v", r)
	}
	for _, c := range emu.Calls() {
		if c.Action == "DescribeNetworkInterfaces" {
			t.Fatalf("cached instance looked up again: %+v", c)
		}
	}
}
