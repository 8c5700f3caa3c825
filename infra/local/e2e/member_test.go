package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
)

// Member accounts and other regions (DESIGN.md): a member's NAT gateway, ALB
// and CLB in a region other than the functions' deliver into the member's
// own project there; onboard ships those logstores into the central ones
// with ETL jobs that add account_id and region; the central triggers'
// nat-ingest and lb-ingest write them, and trace names the member's account
// and region.

const (
	shipMember  = "2000000000000003"
	shipRegion  = "cn-guangzhou"
	shipRole    = "acs:ram::2000000000000003:role/ndrtrace-member"
	brokenAcct  = "2000000000000004" // its ETL reader role is missing
	brokenRegn  = "cn-chengdu"
	brokenRole  = "acs:ram::2000000000000004:role/ndrtrace-member"
	shipNATEIP  = "47.120.1.1"
	shipALBVIP  = "39.120.1.1"
	shipCLBVIP  = "121.120.1.1"
	shipRemote  = "110.242.68.77"
	shipClient  = "203.0.113.77"
	shipClient2 = "203.0.113.78"
)

func shipping(r *onboard.RegionResult) map[string]onboard.Shipping {
	out := map[string]onboard.Shipping{}
	for _, s := range r.Shipping {
		out[s.Kind] = s
	}
	return out
}

func TestMemberAccountInAnotherRegionIsShippedAndTraced(t *testing.T) {
	emu := lc.OpenAPI
	emu.AddRole(shipMember, shipRole, lc.Account)
	emu.AddRole(shipMember, cloud.ETLReaderRole(shipMember))
	emu.AddRole(brokenAcct, brokenRole, lc.Account)
	lc.TrustETLSink(member, shipMember, brokenAcct)
	all := map[string]string{tagKey: "all"}
	emu.AddNATGateway(shipMember, shipRegion, openapiemu.NATGateway{ID: "ngw-gz-m", VPCID: "vpc-gz-m", Tags: all,
		IPs: []openapiemu.NATIP{{EIP: shipNATEIP}}})
	emu.AddALB(shipMember, shipRegion, openapiemu.ALB{ID: "alb-gz-m", VPCID: "vpc-gz-m", Tags: all,
		Addresses: []openapiemu.ALBAddress{{ZoneID: shipRegion + "-a", Address: shipALBVIP, IntranetAddress: "192.168.9.1"}}})
	emu.AddCLB(shipMember, shipRegion, openapiemu.CLB{ID: "lb-gz-m", VPCID: "vpc-gz-m", Address: shipCLBVIP, Tags: all})
	emu.AddNATGateway(brokenAcct, brokenRegn, openapiemu.NATGateway{ID: "ngw-cd-m", VPCID: "vpc-cd-m", Tags: all,
		IPs: []openapiemu.NATIP{{EIP: "47.121.1.1"}}})

	// The central logstores (Terraform's), one shard each: a trigger event
	// names one shard's range.
	central := projectOf(lc.Account, lc.Region)
	for _, ls := range []string{"nat-sessions", "alb-access", "clb-access"} {
		lc.SLS.CreateLogstore(central, ls, 1, 7)
		if _, shards, _, _ := lc.SLS.Logstore(central, ls); shards != 1 {
			t.Fatalf("central %s has %d shards", ls, shards)
		}
	}

	url, _ := testRedis(t)
	accounts := fmt.Sprintf(`[{"role_arn":%q,"regions":[%q]},{"role_arn":%q,"regions":[%q]}]`, shipRole, shipRegion, brokenRole, brokenRegn)
	rt := startOnboard(t, url, accounts, map[string]string{onboard.EnvDisableOnUntag: "true"})
	s := runOnboard(t, rt, nil)
	r := regionOf(t, s, shipMember, shipRegion)
	if r.Status != onboard.StatusOK || fmt.Sprint(r.Enabled) != "[ngw-gz-m alb-gz-m lb-gz-m]" {
		t.Fatalf("member: %+v", r)
	}
	memberSLS, source := lc.AccountSLS(shipMember), projectOf(shipMember, shipRegion)
	for kind, sh := range shipping(r) {
		if sh.Status != "running" || sh.Sink != central+"/"+map[string]string{"nat": "nat-sessions", "alb": "alb-access", "clb": "clb-access"}[kind] {
			t.Fatalf("shipping of %s: %+v", kind, sh)
		}
	}
	if got := memberSLS.ETLJobs(source); fmt.Sprint(got) != "[ndrtrace-ship-alb ndrtrace-ship-clb ndrtrace-ship-nat]" {
		t.Fatalf("jobs in %s: %v", source, got)
	}
	// The source whose reader role is missing is reported; the other went on.
	b := regionOf(t, s, brokenAcct, brokenRegn)
	if sh := shipping(b)["nat"]; b.Status != onboard.StatusOK || sh.Status != "failed" || !strings.Contains(sh.Reason, cloud.ETLReaderRole(brokenAcct)) {
		t.Fatalf("broken source: %+v", b)
	}

	// Logs delivered in the member's project arrive in the central logstores
	// with the member's account and region, written with the sink role.
	now := time.Now()
	type delivery struct {
		logstore, topic string
		records         []map[string]string
	}
	deliveries := []delivery{
		{"nat-sessions", "", []map[string]string{natSession("ngw-gz-m", "vpc-gz-m", shipNATEIP, 50100, "10.9.0.5", shipRemote, now.Add(-time.Minute), now.Add(9*time.Minute))}},
		{"alb-access", "alb_layer7_access_log", []map[string]string{lbReq("alb", "alb-gz-m", shipClient, "", shipALBVIP, 443, "192.168.9.9:8080", now, "0.010")}},
		{"clb-access", "slb_layer7_access_log", []map[string]string{lbReq("clb", "lb-gz-m", shipClient2, "51234", shipCLBVIP, 80, "192.168.9.10:80", now, "0.010")}},
	}
	ranges := map[string][2]string{}
	lc.SLS.ResetRequests()
	for _, d := range deliveries {
		begin, err := lc.SLS.Cursor(central, d.logstore, 0, "end")
		if err != nil {
			t.Fatal(err)
		}
		before := len(lc.SLS.LogGroups(central, d.logstore))
		if _, _, err := memberSLS.Append(source, d.logstore, 0, cloud.LogGroup(d.topic, now, d.records)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, d.logstore+" shipped", func() bool { return len(lc.SLS.LogGroups(central, d.logstore)) > before })
		lgs := lc.SLS.LogGroups(central, d.logstore)
		shipped := lgs[len(lgs)-1]
		fields := map[string]string{}
		for _, c := range shipped.Logs[0].Contents {
			fields[c.GetKey()] = c.GetValue()
		}
		if fields["account_id"] != shipMember || fields["region"] != shipRegion || shipped.GetTopic() != d.topic {
			t.Fatalf("shipped %s record: topic %q, %v", d.logstore, shipped.GetTopic(), fields)
		}
		end, err := lc.SLS.Cursor(central, d.logstore, 0, "end")
		if err != nil {
			t.Fatal(err)
		}
		ranges[d.logstore] = [2]string{begin, end}
	}
	for _, req := range lc.SLS.Requests() {
		if req.Method == "POST" && req.Project == central && (req.AccessKeyID == lc.Creds.AccessKeyID || !strings.HasPrefix(req.AccessKeyID, "STS.")) {
			t.Fatalf("a shipped write was not signed with the sink role's STS key: %+v", req)
		}
	}

	// The central triggers' functions ingest them; trace names the member.
	natFn := startFn(t, "nat-ingest", map[string]string{"REDIS_URL": url})
	lbFn := startFn(t, "lb-ingest", map[string]string{"REDIS_URL": url})
	for ls, rg := range ranges {
		fn := lbFn
		if ls == "nat-sessions" {
			fn = natFn
		}
		if res := invoke(t, fn, cloud.TriggerEvent(central, ls, rg[0], rg[1])); res.Error != nil || !strings.Contains(string(res.Payload), `"mappings":1`) {
			t.Fatalf("ingest %s: %s %v", ls, res.Payload, res.Error)
		}
	}
	tr := startFn(t, "trace", map[string]string{"REDIS_URL": url, "TRACE_MAX_WAIT": "2s"})
	at := time.Now()
	for _, c := range []struct {
		name, kind, private string
		body                []byte
	}{
		{"member NAT", "nat", "10.9.0.5", categoryAlert("gz-nat", shipNATEIP, 50100, shipRemote, 443, at, "attack")},
		{"member ALB", "alb", "192.168.9.9", lbAlert("gz-alb", shipClient, 40000, shipALBVIP, 443, now, "")},
		{"member CLB", "clb", "192.168.9.10", lbAlert("gz-clb", shipClient2, 51234, shipCLBVIP, 80, now, "")},
	} {
		res := traceDirect(t, tr, c.body)
		if res.Status != alert.Traced || res.Asset == nil || res.Asset.PrivateIP != c.private ||
			res.Asset.AccountID != shipMember || res.Asset.Region != shipRegion || res.Egress.Type != c.kind {
			t.Fatalf("%s: %s %s asset %+v egress %+v", c.name, res.Status, res.Reason, res.Asset, res.Egress)
		}
	}

	// A second run changes nothing in the member.
	emu.ResetCalls()
	before := len(memberSLS.Requests())
	s = runOnboard(t, rt, nil)
	if w := cloudWrites(emu.Calls()); len(w) != 0 {
		t.Fatalf("second run wrote: %v", w)
	}
	if w := slsWrites(memberSLS, source, before); len(w) != 0 {
		t.Fatalf("second run wrote to the member's SLS: %v", w)
	}
	if r := regionOf(t, s, shipMember, shipRegion); len(r.Actions) != 0 {
		t.Fatalf("second run acted: %v", r.Actions)
	}

	// Drift (a person edits a job in the console) is repaired.
	want, _ := memberSLS.ETLConfiguration(source, "ndrtrace-ship-nat")
	memberSLS.SetETLConfiguration(source, "ndrtrace-ship-nat", func(c *sls.ETLConfiguration) {
		c.Script = "* | extend account_id = '1', region = 'elsewhere'"
		c.ETLSinks[0].Logstore = "other"
	})
	s = runOnboard(t, rt, nil)
	r = regionOf(t, s, shipMember, shipRegion)
	if !slices.ContainsFunc(r.Actions, func(a string) bool { return strings.HasPrefix(a, "update ETL job "+source+"/ndrtrace-ship-nat") }) {
		t.Fatalf("drift not repaired: %v", r.Actions)
	}
	got, _ := memberSLS.ETLConfiguration(source, "ndrtrace-ship-nat")
	if got.Script != want.Script || got.ETLSinks[0].Logstore != "nat-sessions" {
		t.Fatalf("after repair: script %q sink %q", got.Script, got.ETLSinks[0].Logstore)
	}
	if st, reason, _, _ := memberSLS.ETLJob(source, "ndrtrace-ship-nat"); st != slsemu.ETLRunning {
		t.Fatalf("repaired job %s: %s", st, reason)
	}

	// Untagging the last assets of the source removes its jobs and switches
	// their logs off.
	for _, id := range []string{"ngw-gz-m", "alb-gz-m", "lb-gz-m"} {
		emu.SetTags(shipMember, shipRegion, id, nil)
	}
	s = runOnboard(t, rt, nil)
	r = regionOf(t, s, shipMember, shipRegion)
	if fmt.Sprint(r.Disabled) != "[ngw-gz-m alb-gz-m lb-gz-m]" {
		t.Fatalf("untagged: %+v", r)
	}
	for kind, sh := range shipping(r) {
		if sh.Status != "removed" {
			t.Fatalf("job of %s after untagging: %+v", kind, sh)
		}
	}
	if jobs := memberSLS.ETLJobs(source); len(jobs) != 0 {
		t.Fatalf("jobs left: %v", jobs)
	}
	g, _ := emu.NATGateway(shipMember, shipRegion, "ngw-gz-m")
	alb, _ := emu.ALB(shipMember, shipRegion, "alb-gz-m")
	clb, _ := emu.CLB(shipMember, shipRegion, "lb-gz-m")
	if g.SessionLogEnabled || alb.LogProject != "" || clb.LogProject != "" {
		t.Fatalf("logs still on: nat %v, alb %q, clb %q", g.SessionLogEnabled, alb.LogProject, clb.LogProject)
	}
}

// waitFor polls cond until it holds or 30 s pass: it asserts an order of
// events (a job ships what was delivered), not a duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
