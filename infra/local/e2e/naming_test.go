package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

// Naming instances never costs an answer its wall. Each scenario has its
// own region (the OpenAPI emulator's faults are per region), one tagged
// NAT gateway, and 40 instances of which the first 20 held their address
// when onboarding ran (the address history knows them) and the other 20
// came later (only ECS knows them).

const namingWait = "2s"

// namingScenario onboards a region and ingests one session per instance;
// it returns the trace function and the alert bodies: traced ones for
// instances 0-39, untraced ones (no session) after them.
type namingScenario struct {
	region, vpc, eip string
	trace            *fcemu.Runtime
	at               time.Time
}

const remotePeer = "106.11.22.203"

func (s *namingScenario) private(i int) string { return fmt.Sprintf("172.16.30.%d", 10+i) }
func (s *namingScenario) instance(i int) string {
	return fmt.Sprintf("i-%s-%02d", strings.TrimPrefix(s.region, "cn-"), i)
}

func (s *namingScenario) alert(i int) string {
	return string(categoryAlert(fmt.Sprintf("%s-%d", s.region, i), s.eip, 51000+i, remotePeer, 443, s.at, "attack"))
}

func newNamingScenario(t *testing.T, redisURL, region, eip string, known, later int) *namingScenario {
	t.Helper()
	emu, acct := lc.OpenAPI, lc.Account
	s := &namingScenario{region: region, vpc: "vpc-" + strings.TrimPrefix(region, "cn-"), eip: eip}
	ngw := "ngw-" + strings.TrimPrefix(region, "cn-")
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: ngw, VPCID: s.vpc, Tags: map[string]string{tagKey: "all"},
		IPs: []openapiemu.NATIP{{EIP: eip}}})
	addENI := func(i int) {
		emu.AddENI(acct, region, openapiemu.ENI{ID: fmt.Sprintf("eni-%s-%02d", strings.TrimPrefix(region, "cn-"), i),
			InstanceID: s.instance(i), VPCID: s.vpc, PrimaryIP: s.private(i), Created: time.Now().Add(-time.Hour)})
	}
	for i := range known {
		addENI(i)
	}
	sum := runOnboard(t, startOnboard(t, redisURL, ownAccounts(region), nil), nil)
	if r := regionOf(t, sum, acct, region); r.Status != "ok" || r.Addresses != known || r.HoldersError != "" {
		t.Fatalf("onboarding: %+v", r)
	}
	for i := known; i < known+later; i++ {
		addENI(i) // after onboarding: unknown to the history
	}
	now := time.Now()
	s.at = now
	var recs []map[string]string
	for i := range known + later {
		recs = append(recs, natSession(ngw, s.vpc, eip, 51000+i, s.private(i), remotePeer, now.Add(-time.Minute), now.Add(9*time.Minute)))
	}
	project := projectOf(acct, region)
	begin, end, err := lc.Put(project, "nat-sessions", "", now, recs)
	if err != nil {
		t.Fatal(err)
	}
	nat := startFn(t, "nat-ingest", map[string]string{"REDIS_URL": redisURL})
	if res := invoke(t, nat, cloud.TriggerEvent(project, "nat-sessions", begin, end)); res.Error != nil {
		t.Fatalf("ingest: %v", res.Error)
	}
	s.trace = startFn(t, "trace", map[string]string{"REDIS_URL": redisURL, "TRACE_MAX_WAIT": namingWait})
	return s
}

// traceBatch traces a batch through the compiled function and returns its
// results and how long the invocation took.
func traceBatch(t *testing.T, rt *fcemu.Runtime, bodies []string) ([]alert.Result, time.Duration) {
	t.Helper()
	start := time.Now()
	res := invoke(t, rt, []byte(`{"alerts":[`+strings.Join(bodies, ",")+`]}`))
	took := time.Since(start)
	if res.Error != nil {
		t.Fatalf("trace: %v", res.Error)
	}
	var b struct{ Results []alert.Result }
	if err := json.Unmarshal(res.Payload, &b); err != nil || len(b.Results) != len(bodies) {
		t.Fatalf("%d results of %d: %v %s", len(b.Results), len(bodies), err, res.Payload)
	}
	return b.Results, took
}

// ecsCallsIn counts the DescribeNetworkInterfaces calls the emulator saw
// in a region.
func ecsCallsIn(region string) int {
	n := 0
	for _, c := range lc.OpenAPI.Calls() {
		if c.Action == "DescribeNetworkInterfaces" && c.Region == region {
			n++
		}
	}
	return n
}

func TestTraceNamesFromTheHistoryWithoutECS(t *testing.T) {
	url, _ := testRedis(t)
	s := newNamingScenario(t, url, "cn-wulanchabu", "47.104.1.1", 20, 0)
	var bodies []string
	for i := range 20 {
		bodies = append(bodies, s.alert(i))
	}
	before := ecsCallsIn(s.region)
	rs, _ := traceBatch(t, s.trace, bodies)
	for i, r := range rs {
		if r.Status != alert.Traced || r.Asset == nil || r.Asset.PrivateIP != s.private(i) || r.Asset.InstanceID != s.instance(i) || r.Reason != "" {
			t.Fatalf("alert %d: %s %q %+v", i, r.Status, r.Reason, r.Asset)
		}
	}
	if n := ecsCallsIn(s.region) - before; n != 0 {
		t.Fatalf("%d ECS calls for instances the inventory knows", n)
	}
}

// With ECS unreachable, stalled 30 s per call, or throttling every call,
// 100 alerts in batches of 25 each come back within 10 s (the wall is
// TRACE_MAX_WAIT, 2 s, plus a second): traced ones with their private
// endpoint (named where the history knows the instance, unnamed with a
// reason where only ECS would), the others untraced.
func TestWallHoldsWhenECSFails(t *testing.T) {
	url, _ := testRedis(t) // one database: the scenarios differ by region and EIP
	for k, fault := range []string{"unreachable", "stalled", "throttling"} {
		t.Run(fault, func(t *testing.T) {
			region := []string{"cn-heyuan", "cn-guangzhou", "cn-fuzhou"}[k]
			s := newNamingScenario(t, url, region, fmt.Sprintf("47.105.%d.1", k+1), 20, 20)
			switch fault {
			case "unreachable":
				lc.OpenAPI.DropRegion(region, true)
				defer lc.OpenAPI.DropRegion(region, false)
			case "stalled":
				lc.OpenAPI.StallRegion(region, 30*time.Second)
				defer lc.OpenAPI.StallRegion(region, 0)
			case "throttling":
				lc.OpenAPI.FailRegion(region, "Throttling.User")
				defer lc.OpenAPI.FailRegion(region, "")
			}
			const alerts, batch = 100, 25
			var traced, named, unnamed, untraced int
			for from := 0; from < alerts; from += batch {
				var bodies []string
				for i := from; i < from+batch; i++ {
					bodies = append(bodies, s.alert(i)) // 40 and over have no session
				}
				rs, took := traceBatch(t, s.trace, bodies)
				if took > 10*time.Second {
					t.Fatalf("batch %d answered after %s", from/batch, took)
				}
				for j, r := range rs {
					i := from + j
					switch {
					case i >= 40:
						if r.Status != alert.Untraced {
							t.Fatalf("alert %d: %s %q", i, r.Status, r.Reason)
						}
						untraced++
						continue
					case r.Status != alert.Traced || r.Asset == nil || r.Asset.PrivateIP != s.private(i):
						t.Fatalf("alert %d: %s %q %+v", i, r.Status, r.Reason, r.Asset)
					}
					traced++
					switch {
					case i < 20 && r.Asset.InstanceID == s.instance(i) && r.Reason == "":
						named++
					case i >= 20 && r.Asset.InstanceID == "" && strings.Contains(r.Reason, "instance not named"):
						unnamed++
					default:
						t.Fatalf("alert %d: instance %q, reason %q", i, r.Asset.InstanceID, r.Reason)
					}
				}
			}
			if traced != 40 || named != 20 || unnamed != 20 || untraced != 60 {
				t.Fatalf("traced %d (named %d, unnamed %d), untraced %d", traced, named, unnamed, untraced)
			}
			// The fallback did reach the failing endpoint (at least once,
			// before its breaker opened).
			if ecsCallsIn(region) == 0 {
				t.Fatal("ECS was never asked: the fault was not exercised")
			}
		})
	}
}

// An address that moves from instance A to instance B between onboarding
// runs names A for alerts before the move and B after it.
func TestInstanceNamedAtTheAlertsTimeAcrossAMove(t *testing.T) {
	const region, eip, ip = "cn-nanjing", "47.106.1.1", "172.16.40.7"
	emu, acct := lc.OpenAPI, lc.Account
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-nanjing", VPCID: "vpc-nanjing",
		Tags: map[string]string{tagKey: "all"}, IPs: []openapiemu.NATIP{{EIP: eip}}})
	emu.AddENI(acct, region, openapiemu.ENI{ID: "eni-move-a", InstanceID: "i-move-a", VPCID: "vpc-nanjing", PrimaryIP: ip,
		Created: time.Now().Add(-2 * time.Hour)})
	url, rdb := testRedis(t)
	onb := startOnboard(t, url, ownAccounts(region), nil)
	run := func() time.Time {
		s := runOnboard(t, onb, nil)
		if r := regionOf(t, s, acct, region); r.Status != "ok" || r.HoldersError != "" {
			t.Fatalf("onboarding: %+v", r)
		}
		return s.StartedAt
	}
	// Onboarding runs are seconds apart here (ten minutes in production):
	// the pauses only make their times differ.
	t1 := run()
	time.Sleep(1100 * time.Millisecond)
	t2 := run()
	time.Sleep(1100 * time.Millisecond)
	emu.RemoveENI(acct, region, "eni-move-a") // A is released, B takes its address
	emu.AddENI(acct, region, openapiemu.ENI{ID: "eni-move-b", InstanceID: "i-move-b", VPCID: "vpc-nanjing", PrimaryIP: ip,
		Created: time.Now()})
	time.Sleep(1100 * time.Millisecond)
	t3 := run()
	if !t1.Before(t2) || !t2.Before(t3) {
		t.Fatalf("runs at %s %s %s", t1, t2, t3)
	}
	// Coverage began when the first run saw the session log on, after that
	// run started and before the second.
	nat, _, err := inventory.New(rdb).Asset(context.Background(), mapping.KindNAT, "ngw-nanjing")
	if err != nil || nat.Since.Before(t1) || !nat.Since.Before(t2) {
		t.Fatalf("coverage from %v (runs at %s %s): %v", nat.Since, t1, t2, err)
	}

	project := projectOf(acct, region)
	begin, end, err := lc.Put(project, "nat-sessions", "", t3, []map[string]string{
		natSession("ngw-nanjing", "vpc-nanjing", eip, 52000, ip, remotePeer, t1.Add(-time.Minute), t3.Add(10*time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if res := invoke(t, startFn(t, "nat-ingest", map[string]string{"REDIS_URL": url}), cloud.TriggerEvent(project, "nat-sessions", begin, end)); res.Error != nil {
		t.Fatalf("ingest: %v", res.Error)
	}
	tr := startFn(t, "trace", map[string]string{"REDIS_URL": url, "TRACE_MAX_WAIT": namingWait})
	cases := []struct {
		at   time.Time
		want string
	}{
		{nat.Since, "i-move-a"}, {t2, "i-move-a"}, {t3, "i-move-b"}, {t3.Add(5 * time.Minute), "i-move-b"},
	}
	var bodies []string
	for k, c := range cases {
		bodies = append(bodies, string(categoryAlert(fmt.Sprintf("move-%d", k), eip, 52000, remotePeer, 443, c.at, "attack")))
	}
	before := ecsCallsIn(region)
	rs, _ := traceBatch(t, tr, bodies)
	for k, r := range rs {
		if r.Status != alert.Traced || r.Asset == nil || r.Asset.PrivateIP != ip || r.Asset.InstanceID != cases[k].want {
			t.Errorf("alert at %s: %s %q, instance %q, want %q", cases[k].at, r.Status, r.Reason, r.Asset.InstanceID, cases[k].want)
		}
	}
	if n := ecsCallsIn(region) - before; n != 0 {
		t.Fatalf("%d ECS calls", n)
	}
}

// The results logstore stalling 30 s on every write costs no answer its
// wall either: each batch comes back within 10 s (TRACE_MAX_WAIT is 2 s),
// over HTTP with X-Ndrtrace-Recorded: false, and every alert of it is in
// the function's log.
func TestWallHoldsWhenResultsLogstoreStalls(t *testing.T) {
	url, _ := testRedis(t)
	s := newNamingScenario(t, url, "cn-zhengzhou", "47.105.9.1", 20, 0)
	var logs syncBuffer
	tr, err := lc.Function(context.Background(), "trace", map[string]string{
		"REDIS_URL": url, "TRACE_MAX_WAIT": namingWait, "TRACE_LATE_WINDOW": "0",
		"RESULTS_ENDPOINT": cloud.SLSEndpoint, "RESULTS_PROJECT": project, "RESULTS_LOGSTORE": resultsLS,
	}, func(f *fcemu.Function) { f.Output, f.Timeout = &logs, 60*time.Second })
	if err != nil {
		t.Fatal(err)
	}
	lc.SLS.DelayAfter(project, resultsLS, 0, 1<<30, 30*time.Second)
	defer lc.SLS.DelayAfter(project, resultsLS, 0, 0, 0)

	// Alerts 0-19 have a session, 20-29 none.
	var bodies []string
	for i := range 30 {
		bodies = append(bodies, s.alert(i))
	}
	rs, took := traceBatch(t, tr, bodies)
	if took > 10*time.Second {
		t.Fatalf("direct batch answered after %s", took)
	}
	for i, r := range rs {
		want := alert.Traced
		if i >= 20 {
			want = alert.Untraced
		}
		if r.Status != want || (want == alert.Traced && r.Asset.PrivateIP != s.private(i)) {
			t.Fatalf("alert %d: %s %q %+v", i, r.Status, r.Reason, r.Asset)
		}
	}

	start := time.Now()
	res := invoke(t, tr, fcemu.HTTPEvent(fcemu.HTTPRequest{Method: http.MethodPost, Path: "/",
		Body: []byte(`{"alerts":[` + strings.Join(bodies[15:25], ",") + `]}`), Headers: map[string]string{"Content-Type": "application/json"}}))
	if took := time.Since(start); took > 10*time.Second || res.Error != nil {
		t.Fatalf("HTTP batch answered after %s: %v", took, res.Error)
	}
	resp, err := fcemu.DecodeHTTPResponse(res.Payload)
	if err != nil || resp.StatusCode != 200 || resp.Headers["X-Ndrtrace-Recorded"] != "false" {
		t.Fatalf("HTTP %+v (%v): want 200 with X-Ndrtrace-Recorded: false", resp, err)
	}
	logged := logs.String()
	for i := 15; i < 25; i++ {
		if id := fmt.Sprintf("%s-%d", s.region, i); !strings.Contains(logged, `"alert_id":"`+id+`"`) {
			t.Fatalf("alert %s is in neither the results logstore nor the function's log", id)
		}
	}
}

// A late result names the instance too: the ingest that resolves it reads
// the address history onboarding keeps (no cloud call), as trace does.
func TestLateResultNamesTheInstance(t *testing.T) {
	url, _ := testRedis(t)
	s := newNamingScenario(t, url, "cn-wuhan-lr", "47.105.11.1", 20, 0)
	const ls = "late-named"
	lc.Logstore(project, ls)
	env := map[string]string{"REDIS_URL": url, "TRACE_MAX_WAIT": "1s",
		"RESULTS_ENDPOINT": cloud.SLSEndpoint, "RESULTS_PROJECT": project, "RESULTS_LOGSTORE": ls}
	tr, nat := startFn(t, "trace", env), startFn(t, "nat-ingest", env)

	// Instance 5 opens a new session; the alert about it comes first.
	const id, port = "late-named-5", 52005
	body := string(categoryAlert(id, s.eip, port, remotePeer, 443, s.at, "attack"))
	rs, _ := traceBatch(t, tr, []string{body})
	if rs[0].Status != alert.Untraced || rs[0].PendingUntil == "" {
		t.Fatalf("first answer: %s %q pending_until %q", rs[0].Status, rs[0].Reason, rs[0].PendingUntil)
	}
	src := projectOf(lc.Account, s.region)
	begin, end, err := lc.Put(src, "nat-sessions", "", time.Now(), []map[string]string{
		natSession("ngw-wuhan-lr", s.vpc, s.eip, port, s.private(5), remotePeer, s.at.Add(-time.Minute), s.at.Add(9*time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if res := invoke(t, nat, cloud.TriggerEvent(src, "nat-sessions", begin, end)); res.Error != nil {
		t.Fatalf("ingest: %v", res.Error)
	}
	logs := lateOf(ls, id)
	if len(logs) != 1 || logs[0]["status"] != "traced" || logs[0]["private_ip"] != s.private(5) ||
		logs[0]["instance_id"] != s.instance(5) || logs[0]["eni_id"] == "" {
		t.Fatalf("late logs %v: want one traced to %s on %s", logs, s.private(5), s.instance(5))
	}
}
