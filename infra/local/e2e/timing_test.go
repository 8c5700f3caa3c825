package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
)

// The control plane finishes changes after the call returns (the OpenAPI
// emulator's SetControlPlaneDelay): onboarding waits for them, retries
// changes refused while another is in progress, and starts coverage when
// the change is seen complete.

func TestOnboardWaitsForChangesAndRetriesConflicts(t *testing.T) {
	const region = "cn-beijing"
	const delay = 2 * time.Second
	emu, acct := lc.OpenAPI, lc.Account
	all := map[string]string{tagKey: "all"}
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-bj", VPCID: "vpc-bj", Tags: all, IPs: []openapiemu.NATIP{{EIP: "47.110.1.1"}}})
	emu.AddALB(acct, region, openapiemu.ALB{ID: "alb-bj", VPCID: "vpc-bj", Tags: all, Addresses: []openapiemu.ALBAddress{{Address: "39.110.1.1"}}})
	emu.AddCLB(acct, region, openapiemu.CLB{ID: "lb-bj", VPCID: "vpc-bj", Address: "121.110.1.1", Tags: all})
	emu.SetControlPlaneDelay(delay)
	defer emu.SetControlPlaneDelay(openapiemu.DefaultControlPlaneDelay)

	url, rdb := testRedis(t)
	rt := startOnboard(t, url, ownAccounts(region), nil)
	emu.ResetCalls()
	// Each first attempt meets another operation in progress.
	emu.FailNext("ModifyNatGatewayAttribute", 1, "IncorrectStatus.NatGateway", 0)
	emu.FailNext("EnableLoadBalancerAccessLog", 1, "Conflict.Lock", 0)
	emu.FailNext("SetAccessLogsDownloadAttribute", 1, "OperationConflict", 0)

	s := runOnboard(t, rt, nil)
	r := regionOf(t, s, acct, region)
	if r.Status != onboard.StatusOK || fmt.Sprint(r.Enabled) != "[ngw-bj alb-bj lb-bj]" || len(r.Failed) != 0 || len(r.Pending) != 0 {
		t.Fatalf("run: %+v", r)
	}
	// The refused calls were made again, and succeeded.
	for action, code := range map[string]string{
		"ModifyNatGatewayAttribute": "IncorrectStatus.NatGateway", "EnableLoadBalancerAccessLog": "Conflict.Lock",
		"SetAccessLogsDownloadAttribute": "OperationConflict",
	} {
		cs := emu.Calls(action)
		if len(cs) != 2 || cs[0].Code != code || cs[1].Code != "" {
			t.Fatalf("%s calls: %+v", action, cs)
		}
	}
	// The run returned once every change had completed: nothing is left
	// in flight, and the ALB's job was followed to its end.
	if n := emu.PendingChanges(); n != 0 {
		t.Fatalf("%d changes still in flight after the run", n)
	}
	if len(emu.Calls("ListAsynJobs")) == 0 {
		t.Fatal("the ALB job was not followed")
	}
	// Coverage starts when the change completed, never at the call.
	inv := inventory.New(rdb)
	for _, x := range []struct {
		kind   mapping.Kind
		id, by string
	}{{mapping.KindNAT, "ngw-bj", "ModifyNatGatewayAttribute"}, {mapping.KindALB, "alb-bj", "EnableLoadBalancerAccessLog"},
		{mapping.KindCLB, "lb-bj", "SetAccessLogsDownloadAttribute"}} {
		accepted := emu.Calls(x.by)[1].Time
		a, ok, err := inv.Asset(context.Background(), x.kind, x.id)
		if err != nil || !ok || a.Logging != inventory.LogOn || a.Since.Before(accepted.Add(delay).Truncate(time.Second)) {
			t.Fatalf("%s: coverage from %v, change accepted at %v and completing %v later: %+v %v", x.id, a.Since, accepted, delay, a, err)
		}
	}
}

func TestOnboardReportsAChangeThatDoesNotCompleteAndFinishesItLater(t *testing.T) {
	const region = "ap-southeast-1"
	emu, acct := lc.OpenAPI, lc.Account
	all := map[string]string{tagKey: "all"}
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-wh", VPCID: "vpc-wh", Tags: all, IPs: []openapiemu.NATIP{{EIP: "47.111.1.1"}}})
	emu.AddALB(acct, region, openapiemu.ALB{ID: "alb-wh", VPCID: "vpc-wh", Tags: all, Addresses: []openapiemu.ALBAddress{{Address: "39.111.1.1"}}})
	// Far beyond the run's wait: these changes do not complete during it.
	emu.SetControlPlaneDelay(time.Hour)
	defer emu.SetControlPlaneDelay(openapiemu.DefaultControlPlaneDelay)

	url, rdb := testRedis(t)
	rt := startOnboard(t, url, ownAccounts(region), map[string]string{onboard.EnvChangeWait: "2s"})
	s := runOnboard(t, rt, nil)
	r := regionOf(t, s, acct, region)
	pending := map[string]string{}
	for _, p := range r.Pending {
		pending[p.ID] = p.Reason
	}
	if r.Status != onboard.StatusOK || len(r.Enabled) != 0 || len(pending) != 2 ||
		!strings.Contains(pending["ngw-wh"], "Modifying") || !strings.Contains(pending["alb-wh"], "Processing") {
		t.Fatalf("run with changes that do not complete: %+v", r)
	}
	// Not counted as logging while unconfirmed.
	inv := inventory.New(rdb)
	for _, x := range []struct {
		kind mapping.Kind
		id   string
	}{{mapping.KindNAT, "ngw-wh"}, {mapping.KindALB, "alb-wh"}} {
		if a, ok, _ := inv.Asset(context.Background(), x.kind, x.id); !ok || a.Logging == inventory.LogOn || !a.Since.IsZero() {
			t.Fatalf("%s recorded as logging before its change completed: %+v", x.id, a)
		}
	}

	// The slow changes complete after all; the next run finds them done
	// and starts coverage from then.
	done := time.Now()
	emu.CompleteChanges()
	emu.ResetCalls()
	r = regionOf(t, runOnboard(t, rt, nil), acct, region)
	if fmt.Sprint(r.AlreadyEnabled) != "[ngw-wh alb-wh]" || len(r.Pending) != 0 || len(r.Failed) != 0 || len(cloudWrites(emu.Calls())) != 0 {
		t.Fatalf("next run: %+v, writes %v", r, cloudWrites(emu.Calls()))
	}
	for _, x := range []struct {
		kind mapping.Kind
		id   string
	}{{mapping.KindNAT, "ngw-wh"}, {mapping.KindALB, "alb-wh"}} {
		if a, ok, _ := inv.Asset(context.Background(), x.kind, x.id); !ok || a.Logging != inventory.LogOn || a.Since.Before(done.Truncate(time.Second)) {
			t.Fatalf("%s after the change completed at %v: %+v", x.id, done, a)
		}
	}
}
