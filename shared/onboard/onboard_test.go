package onboard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
)

var rdb *redis.Client

func TestMain(m *testing.M) { redisd.TestMain(m, &rdb) }

const (
	own    = "1234567890123456"
	region = "cn-hangzhou"
	proj   = "ndr-logs-1234567890123456-cn-hangzhou"
)

var ctx = context.Background()

// fakeCloud is an in-memory control plane.
type fakeCloud struct {
	mu     sync.Mutex
	nats   []cloud.NATGateway
	albs   []cloud.ALB
	clbs   []cloud.CLB
	enis   []cloud.ENI
	writes []string
	fail   error
}

func (f *fakeCloud) ListNATGateways(context.Context, string) ([]cloud.NATGateway, error) {
	return slices.Clone(f.nats), f.fail
}
func (f *fakeCloud) ListALBs(context.Context, string) ([]cloud.ALB, error) {
	return slices.Clone(f.albs), f.fail
}
func (f *fakeCloud) ListCLBs(context.Context, string) ([]cloud.CLB, error) {
	return slices.Clone(f.clbs), f.fail
}
func (f *fakeCloud) ListENIs(context.Context, string) ([]cloud.ENI, error) {
	return slices.Clone(f.enis), f.fail
}

func (f *fakeCloud) EnableNATSessionLog(_ context.Context, _, id, dest string) error {
	f.writes = append(f.writes, "enable "+id)
	for i := range f.nats {
		if f.nats[i].ID == id {
			f.nats[i].SessionLogEnabled, f.nats[i].LogDestination = true, dest
		}
	}
	return nil
}

func (f *fakeCloud) DisableNATSessionLog(_ context.Context, _, id string) error {
	f.writes = append(f.writes, "disable "+id)
	for i := range f.nats {
		if f.nats[i].ID == id {
			f.nats[i].SessionLogEnabled = false
		}
	}
	return nil
}

func (f *fakeCloud) EnableALBAccessLog(_ context.Context, _, id, p, ls string) (string, error) {
	f.writes = append(f.writes, "enable "+id)
	for i := range f.albs {
		if f.albs[i].ID == id {
			f.albs[i].AccessLog = cloud.AccessLog{Project: p, Logstore: ls}
		}
	}
	return "", nil // no job: the fake applies changes at once
}

// The fake applies changes at once: reading them back shows them done.
func (f *fakeCloud) NATGatewayState(_ context.Context, _, id string) (cloud.NATGateway, error) {
	for _, g := range f.nats {
		if g.ID == id {
			return g, nil
		}
	}
	return cloud.NATGateway{}, errors.New("InvalidNatGatewayId.NotFound")
}
func (f *fakeCloud) ALBJob(context.Context, string, string) (cloud.Job, bool, error) {
	return cloud.Job{}, false, nil
}
func (f *fakeCloud) ALBAccessLog(_ context.Context, _, id string) (cloud.AccessLog, string, error) {
	for _, a := range f.albs {
		if a.ID == id {
			return a.AccessLog, "Active", nil
		}
	}
	return cloud.AccessLog{}, "", errors.New("ResourceNotFound.LoadBalancer")
}
func (f *fakeCloud) CLBAccessLog(_ context.Context, _, id string) (cloud.AccessLog, error) {
	for _, l := range f.clbs {
		if l.ID == id {
			return l.AccessLog, nil
		}
	}
	return cloud.AccessLog{}, errors.New("InvalidLoadBalancerId.NotFound")
}

func (f *fakeCloud) EnableCLBAccessLog(_ context.Context, _, id, p, ls string) error {
	f.writes = append(f.writes, "enable "+id)
	for i := range f.clbs {
		if f.clbs[i].ID == id {
			f.clbs[i].AccessLog = cloud.AccessLog{Project: p, Logstore: ls}
		}
	}
	return nil
}

type fakeLogs struct{ made map[string]bool }

func (l *fakeLogs) Ensure(_ context.Context, d onboard.Destination, dry bool) ([]string, error) {
	if l.made[d.String()] {
		return nil, nil
	}
	if !dry {
		l.made[d.String()] = true
	}
	return []string{"create logstore " + d.String()}, nil
}

type rig struct {
	cl   *fakeCloud
	logs *fakeLogs
	inv  *inventory.Inventory
	r    *onboard.Runner
	now  time.Time
}

func newRig(t *testing.T, env map[string]string) *rig {
	t.Helper()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if env == nil {
		env = map[string]string{}
	}
	if env[onboard.EnvAccounts] == "" {
		env[onboard.EnvAccounts] = fmt.Sprintf(`[{"account_id":%q,"regions":[%q]}]`, own, region)
	}
	cfg, err := onboard.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	g := &rig{cl: &fakeCloud{}, logs: &fakeLogs{made: map[string]bool{}}, inv: inventory.New(rdb),
		now: time.Date(2025, 2, 5, 12, 0, 0, 0, time.UTC)}
	g.r = &onboard.Runner{Config: cfg, Inv: g.inv, Now: func() time.Time { return g.now },
		Connect: func(context.Context, onboard.Account) (onboard.Cloud, onboard.Logs, error) { return g.cl, g.logs, nil }}
	return g
}

func (g *rig) run(t *testing.T, dry bool) *onboard.RegionResult {
	t.Helper()
	s, err := g.r.Run(ctx, dry)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Results) != 1 {
		t.Fatalf("%+v", s)
	}
	g.now = g.now.Add(time.Hour)
	return s.Results[0]
}

func tagged(v string) map[string]string { return map[string]string{"ndr-trace": v} }

func nat(id, eip string, tags map[string]string) cloud.NATGateway {
	return cloud.NATGateway{ID: id, VPCID: "vpc-1", Region: region, NetworkType: "internet", EipBindMode: "MULTI_BINDED",
		InternetChargeType: "PayByLcu", IPs: []cloud.NATIP{{EIP: eip}}, Tags: tags}
}

func TestRunDecisions(t *testing.T) {
	g := newRig(t, nil)
	spec := nat("ngw-spec", "47.0.0.3", tagged("all"))
	spec.InternetChargeType = "PayBySpec"
	elsewhere := cloud.ALB{ID: "alb-else", AddressType: "Internet", Tags: tagged("attack"),
		AccessLog: cloud.AccessLog{Project: "theirs", Logstore: "theirs"}, Addresses: []cloud.LBAddress{{Public: "39.0.0.2"}}}
	g.cl.nats = []cloud.NATGateway{nat("ngw-on", "47.0.0.1", tagged("all")), nat("ngw-off", "47.0.0.2", nil), spec,
		nat("ngw-bad", "47.0.0.4", tagged("everything"))}
	g.cl.albs = []cloud.ALB{elsewhere, {ID: "alb-cfg", AddressType: "Internet", Addresses: []cloud.LBAddress{{Public: "39.0.0.1", Private: "192.168.0.1"}}}}
	g.cl.clbs = []cloud.CLB{{ID: "lb-in", AddressType: "intranet", Address: "10.0.0.1", Tags: tagged("all")}}
	g.r.Config.Assets = map[string]inventory.Switches{"alb-cfg": {SensitiveData: true}, "lb-gone": inventory.All}

	sum, err := g.r.Run(ctx, false)
	if err != nil || fmt.Sprint(sum.ConfiguredNotFound) != "[lb-gone]" || !sum.InventoryFilled {
		t.Fatalf("%+v %v", sum, err)
	}
	g.now = g.now.Add(time.Hour)
	res := sum.Results[0]
	if fmt.Sprint(res.Enabled) != "[ngw-on alb-cfg]" || len(res.AlreadyEnabled) != 0 || len(res.Failed) != 0 {
		t.Fatalf("enabled %v already %v failed %v", res.Enabled, res.AlreadyEnabled, res.Failed)
	}
	reasons := map[string]string{}
	for _, s := range res.Skipped {
		reasons[s.ID] = s.Reason
	}
	for id, want := range map[string]string{"ngw-spec": "pay-by-specification", "alb-else": "theirs/theirs", "lb-in": "intranet", "ngw-bad": "everything"} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("skipped %s: %q, want %q", id, reasons[id], want)
		}
	}
	if len(res.Discovered) != 7 {
		t.Fatalf("discovered %v", res.Discovered)
	}
	first := g.now.Add(-time.Hour)
	a, _, _ := g.inv.Asset(ctx, mapping.KindALB, "alb-cfg")
	if a.Switches != (inventory.Switches{SensitiveData: true}) || !a.Since.Equal(first) || a.Logging != inventory.LogOn || !a.Addrs[0].Private.IsValid() {
		t.Fatalf("alb-cfg %+v", a)
	}
	s, _, _ := g.inv.Asset(ctx, mapping.KindNAT, "ngw-spec")
	if !s.Since.IsZero() || s.Logging != inventory.LogUnsupported || !s.Switches.Any() {
		t.Fatalf("ngw-spec %+v", s)
	}

	// Second run: only reads; coverage start kept.
	writes := len(g.cl.writes)
	res = g.run(t, false)
	if len(g.cl.writes) != writes || len(res.Enabled) != 0 || fmt.Sprint(res.AlreadyEnabled) != "[ngw-on alb-cfg]" {
		t.Fatalf("second run: writes %v, %+v", g.cl.writes[writes:], res)
	}
	if a, _, _ := g.inv.Asset(ctx, mapping.KindALB, "alb-cfg"); !a.Since.Equal(first) {
		t.Fatalf("since moved: %v", a.Since)
	}

	// Logging switched off behind our back: re-enabled, coverage restarts.
	g.cl.nats[0].SessionLogEnabled = false
	restart := g.now
	res = g.run(t, false)
	if fmt.Sprint(res.Enabled) != "[ngw-on]" {
		t.Fatalf("%+v", res)
	}
	if n, _, _ := g.inv.Asset(ctx, mapping.KindNAT, "ngw-on"); !n.Since.Equal(restart) {
		t.Fatalf("since %v, want %v", n.Since, restart)
	}
}

func (f *fakeCloud) DisableALBAccessLog(_ context.Context, _, id string) (string, error) {
	f.writes = append(f.writes, "disable "+id)
	for i := range f.albs {
		if f.albs[i].ID == id {
			f.albs[i].AccessLog = cloud.AccessLog{}
		}
	}
	return "", nil
}

func (f *fakeCloud) DisableCLBAccessLog(_ context.Context, _, id string) error {
	f.writes = append(f.writes, "disable "+id)
	for i := range f.clbs {
		if f.clbs[i].ID == id {
			f.clbs[i].AccessLog = cloud.AccessLog{}
		}
	}
	return nil
}

func TestUntagAndDisable(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprint("disable=", disable), func(t *testing.T) {
			g := newRig(t, map[string]string{onboard.EnvDisableOnUntag: fmt.Sprint(disable)})
			g.cl.nats = []cloud.NATGateway{nat("ngw-1", "47.0.0.1", tagged("all"))}
			g.cl.albs = []cloud.ALB{{ID: "alb-1", AddressType: "Internet", Tags: tagged("all"), Addresses: []cloud.LBAddress{{Public: "39.0.0.1"}}}}
			g.run(t, false)
			g.cl.nats[0].Tags, g.cl.albs[0].Tags = nil, map[string]string{"ndr-trace": "none"}
			res := g.run(t, false)
			if fmt.Sprint(res.Untagged) != "[ngw-1 alb-1]" {
				t.Fatalf("%+v", res)
			}
			n, _, _ := g.inv.Asset(ctx, mapping.KindNAT, "ngw-1")
			if n.Switches.Any() {
				t.Fatalf("switches still on: %+v", n)
			}
			if disable {
				if fmt.Sprint(res.Disabled) != "[ngw-1 alb-1]" || g.cl.nats[0].SessionLogEnabled || n.Logging != inventory.LogOff || !n.Since.IsZero() {
					t.Fatalf("disabled %v, nat %+v", res.Disabled, n)
				}
				if g.cl.albs[0].AccessLog.Enabled() || len(res.Skipped) != 0 {
					t.Fatalf("ALB access log still on %+v, skipped %+v", g.cl.albs[0].AccessLog, res.Skipped)
				}
			} else if !g.cl.nats[0].SessionLogEnabled || len(res.Disabled) != 0 || n.Logging != inventory.LogOn {
				t.Fatalf("logging touched: %+v", res)
			}
			// A third run reports nothing new.
			if res := g.run(t, false); len(res.Untagged) != 0 || len(res.Disabled) != 0 {
				t.Fatalf("%+v", res)
			}
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	g := newRig(t, nil)
	g.cl.nats = []cloud.NATGateway{nat("ngw-1", "47.0.0.1", tagged("all"))}
	s, err := g.r.Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	res := s.Results[0]
	if !s.DryRun || s.InventoryFilled || fmt.Sprint(res.Enabled) != "[ngw-1]" || len(g.cl.writes) != 0 || len(g.logs.made) != 0 {
		t.Fatalf("%+v writes %v", res, g.cl.writes)
	}
	if !slices.ContainsFunc(res.Actions, func(a string) bool { return strings.HasPrefix(a, "enable session log of nat ngw-1") }) {
		t.Fatalf("actions %v", res.Actions)
	}
	if n := rdb.DBSize(ctx).Val(); n != 0 {
		t.Fatalf("%d inventory keys written", n)
	}
}

func TestFailingRegionIsReported(t *testing.T) {
	g := newRig(t, map[string]string{onboard.EnvAccounts: fmt.Sprintf(`[{"account_id":%q,"regions":["cn-hangzhou","cn-shanghai"]}]`, own)})
	bad := &fakeCloud{fail: errors.New("Forbidden.RAM")}
	g.cl.nats = []cloud.NATGateway{nat("ngw-1", "47.0.0.1", tagged("all"))}
	g.r.Connect = func(context.Context, onboard.Account) (onboard.Cloud, onboard.Logs, error) {
		return regionSwitch{"cn-shanghai": bad, "cn-hangzhou": g.cl}, g.logs, nil
	}
	s, err := g.r.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Results[0].Status != onboard.StatusOK || s.Results[1].Status != onboard.StatusFailed ||
		!strings.Contains(s.Results[1].Error, "Forbidden.RAM") || s.InventoryFilled {
		t.Fatalf("%+v %+v", s.Results[0], s.Results[1])
	}
	if _, ok, _ := g.inv.Filled(ctx); ok {
		t.Fatal("marked filled after a failed region")
	}
	if _, ok, _ := g.inv.Asset(ctx, mapping.KindNAT, "ngw-1"); !ok {
		t.Fatal("the healthy region was not recorded")
	}
}

// regionSwitch dispatches to a fake per region.
type regionSwitch map[string]*fakeCloud

func (r regionSwitch) ListNATGateways(ctx context.Context, reg string) ([]cloud.NATGateway, error) {
	return r[reg].ListNATGateways(ctx, reg)
}
func (r regionSwitch) ListALBs(ctx context.Context, reg string) ([]cloud.ALB, error) {
	return r[reg].ListALBs(ctx, reg)
}
func (r regionSwitch) ListCLBs(ctx context.Context, reg string) ([]cloud.CLB, error) {
	return r[reg].ListCLBs(ctx, reg)
}
func (r regionSwitch) EnableNATSessionLog(ctx context.Context, reg, id, d string) error {
	return r[reg].EnableNATSessionLog(ctx, reg, id, d)
}
func (r regionSwitch) DisableNATSessionLog(ctx context.Context, reg, id string) error {
	return r[reg].DisableNATSessionLog(ctx, reg, id)
}
func (r regionSwitch) NATGatewayState(ctx context.Context, reg, id string) (cloud.NATGateway, error) {
	return r[reg].NATGatewayState(ctx, reg, id)
}
func (r regionSwitch) ALBJob(ctx context.Context, reg, id string) (cloud.Job, bool, error) {
	return r[reg].ALBJob(ctx, reg, id)
}
func (r regionSwitch) ALBAccessLog(ctx context.Context, reg, id string) (cloud.AccessLog, string, error) {
	return r[reg].ALBAccessLog(ctx, reg, id)
}
func (r regionSwitch) CLBAccessLog(ctx context.Context, reg, id string) (cloud.AccessLog, error) {
	return r[reg].CLBAccessLog(ctx, reg, id)
}
func (r regionSwitch) EnableALBAccessLog(ctx context.Context, reg, id, p, l string) (string, error) {
	return r[reg].EnableALBAccessLog(ctx, reg, id, p, l)
}
func (r regionSwitch) EnableCLBAccessLog(ctx context.Context, reg, id, p, l string) error {
	return r[reg].EnableCLBAccessLog(ctx, reg, id, p, l)
}
func (r regionSwitch) ListENIs(ctx context.Context, reg string) ([]cloud.ENI, error) {
	return r[reg].ListENIs(ctx, reg)
}

func TestLoad(t *testing.T) {
	get := func(env map[string]string) func(string) string { return func(k string) string { return env[k] } }
	c, err := onboard.Load(get(map[string]string{}))
	if err != nil || len(c.Accounts) != 1 || c.TagKey != "ndr-trace" || c.RetentionDays != 30 {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	accts, err := c.Resolve(own, region)
	if err != nil || accts[0].ID != own || fmt.Sprint(accts[0].Regions) != "[cn-hangzhou]" || accts[0].ProjectFor(region) != proj ||
		accts[0].EndpointFor(region) != "https://cn-hangzhou.log.aliyuncs.com" || accts[0].Logstore(mapping.KindNAT) != "nat-sessions" {
		t.Fatalf("resolved %+v %v", accts, err)
	}
	c, err = onboard.Load(get(map[string]string{
		onboard.EnvAccounts:      `[{"role_arn":"acs:ram::2000000000000002:role/ndr","regions":["cn-shanghai"],"project":"p-{account}","nat_logstore":"nat"}]`,
		onboard.EnvRetentionDays: "7", onboard.EnvTagKey: "traceability", onboard.EnvDryRun: "true",
		onboard.EnvAssets: `{"ngw-1":"attack","alb-1":true}`,
	}))
	if err != nil || c.Accounts[0].ID != "2000000000000002" || c.Accounts[0].Own() || c.RetentionDays != 7 || !c.DryRun ||
		c.TagKey != "traceability" || c.Assets["ngw-1"] != (inventory.Switches{Attack: true}) || c.Assets["alb-1"] != inventory.All ||
		c.Accounts[0].ProjectFor("x") != "p-2000000000000002" {
		t.Fatalf("%+v %v", c, err)
	}
	for name, env := range map[string]map[string]string{
		"bad json":       {onboard.EnvAccounts: `{`},
		"bad role":       {onboard.EnvAccounts: `[{"role_arn":"arn:aws:iam::1:role/x"}]`},
		"role mismatch":  {onboard.EnvAccounts: `[{"account_id":"1","role_arn":"acs:ram::2:role/x"}]`},
		"bad project":    {onboard.EnvAccounts: `[{"project":"Bad_Project"}]`},
		"bad region":     {onboard.EnvAccounts: `[{"regions":["cn hangzhou"]}]`},
		"bad retention":  {onboard.EnvRetentionDays: "0"},
		"bad bool":       {onboard.EnvDisableOnUntag: "maybe"},
		"bad asset":      {onboard.EnvAssets: `{"ngw 1":"all"}`},
		"bad switches":   {onboard.EnvAssets: `{"ngw-1":"loud"}`},
		"bad endpoints":  {"ALIBABA_CLOUD_OPENAPI_ENDPOINTS": "nope"},
		"empty accounts": {onboard.EnvAccounts: `[]`},
	} {
		if _, err := onboard.Load(get(env)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseEvent(t *testing.T) {
	for in, want := range map[string]bool{
		``: false, `{}`: false, `{"dry_run":true}`: true, `{"dry_run":false}`: false,
		`{"triggerTime":"2025-02-05T15:00:00Z","triggerName":"onboard-timer","payload":""}`:                      false,
		`{"triggerTime":"2025-02-05T15:00:00Z","triggerName":"onboard-timer","payload":"{\"dry_run\":true}"}`:    true,
		`{"triggerTime":"2025-02-05T15:00:00Z","triggerName":"onboard-timer","payload":{"dry_run":true}}`:        true,
		`{"triggerTime":"2025-02-05T15:00:00Z","triggerName":"onboard-timer","payload":"hourly onboarding run"}`: false,
	} {
		if got, err := onboard.ParseEvent([]byte(in)); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := onboard.ParseEvent([]byte(`not json`)); err == nil {
		t.Error("accepted non-JSON")
	}
}
func (r regionSwitch) DisableALBAccessLog(ctx context.Context, reg, id string) (string, error) {
	return r[reg].DisableALBAccessLog(ctx, reg, id)
}
func (r regionSwitch) DisableCLBAccessLog(ctx context.Context, reg, id string) error {
	return r[reg].DisableCLBAccessLog(ctx, reg, id)
}

// The fake account has every delivery role.
func (f *fakeCloud) RoleExists(context.Context, string) (bool, error)      { return true, nil }
func (f *fakeCloud) CreateServiceLinkedRole(context.Context, string) error { return nil }
func (r regionSwitch) RoleExists(context.Context, string) (bool, error)    { return true, nil }
func (r regionSwitch) CreateServiceLinkedRole(context.Context, string) error {
	return nil
}
