package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
)

const (
	albRole     = "AliyunServiceRoleForAlbLogDelivery"
	slbRole     = "AliyunServiceRoleForSlbLogDelivery"
	archiveRole = "AliyunLogArchiveRole"
)

// roleStatus maps the summary's roles of an account to their status.
func roleStatus(s onboard.Summary, account string) map[string]onboard.RoleCheck {
	out := map[string]onboard.RoleCheck{}
	for _, r := range s.Roles {
		if r.AccountID == account {
			out[r.Role] = r
		}
	}
	return out
}

// ALB and CLB access logs are delivered with roles of the account: onboard
// creates the service-linked ones once, and reports what it cannot create.
func TestOnboardCreatesMissingDeliveryRolesOnce(t *testing.T) {
	const region = "cn-hongkong"
	emu, acct := lc.OpenAPI, lc.Account
	all := map[string]string{tagKey: "all"}
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-hk", VPCID: "vpc-hk", Tags: all, IPs: []openapiemu.NATIP{{EIP: "47.112.1.1"}}})
	emu.AddNATGateway(acct, region, openapiemu.NATGateway{ID: "ngw-hk-later", VPCID: "vpc-hk", IPs: []openapiemu.NATIP{{EIP: "47.112.1.2"}}})
	emu.AddALB(acct, region, openapiemu.ALB{ID: "alb-hk", VPCID: "vpc-hk", Tags: all, Addresses: []openapiemu.ALBAddress{{Address: "39.112.1.1"}}})
	emu.AddCLB(acct, region, openapiemu.CLB{ID: "lb-hk", VPCID: "vpc-hk", Address: "121.112.1.1", Tags: all})
	// Whatever earlier tests made: the service-linked roles are missing.
	emu.RemoveRoleNamed(acct, albRole)
	emu.RemoveRoleNamed(acct, slbRole)

	url, _ := testRedis(t)
	rt := startOnboard(t, url, ownAccounts(region), nil)
	emu.ResetCalls()
	s := runOnboard(t, rt, nil)
	roles := roleStatus(s, acct)
	if roles[albRole].Status != onboard.RoleCreated || roles[slbRole].Status != onboard.RoleCreated ||
		roles[archiveRole].Status != onboard.RolePresent || len(roles) != 3 {
		t.Fatalf("first run: roles %+v", s.Roles)
	}
	if !emu.HasRole(acct, albRole) || !emu.HasRole(acct, slbRole) {
		t.Fatal("the service-linked roles were not created")
	}
	var services []string
	for _, c := range emu.Calls("CreateServiceLinkedRole") {
		services = append(services, c.Params["ServiceName"])
	}
	if fmt.Sprint(services) != "[logdelivery.alb.aliyuncs.com logdelivery.slb.aliyuncs.com]" {
		t.Fatalf("CreateServiceLinkedRole for %v", services)
	}
	if r := regionOf(t, s, acct, region); fmt.Sprint(r.Enabled) != "[ngw-hk alb-hk lb-hk]" {
		t.Fatalf("first run: %+v", r)
	}

	// Second run: the roles are there; nothing is created.
	emu.ResetCalls()
	s = runOnboard(t, rt, nil)
	for name, r := range roleStatus(s, acct) {
		if r.Status != onboard.RolePresent {
			t.Fatalf("second run: %s %+v", name, r)
		}
	}
	if w := cloudWrites(emu.Calls()); len(w) != 0 {
		t.Fatalf("second run wrote: %v", w)
	}

	// The ALB role is deleted and creating it is denied; the archive role
	// authorisation is gone too. Both are reported exactly, and the rest
	// goes on: a newly tagged gateway is onboarded in the same run.
	emu.RemoveRoleNamed(acct, albRole)
	emu.RemoveRoleNamed(acct, archiveRole)
	defer emu.AddRole(acct, "acs:ram::"+acct+":role/"+archiveRole)
	emu.FailNext("CreateServiceLinkedRole", 1, "NoPermission", 0)
	emu.SetTags(acct, region, "ngw-hk-later", all)
	s = runOnboard(t, rt, nil)
	roles = roleStatus(s, acct)
	if r := roles[albRole]; r.Status != onboard.RoleMissing || !strings.Contains(r.Reason, "NoPermission") ||
		!strings.Contains(r.Reason, "logdelivery.alb.aliyuncs.com") || r.For != "alb access log" {
		t.Fatalf("denied create: %+v", r)
	}
	if r := roles[archiveRole]; r.Status != onboard.RoleMissing || !strings.Contains(r.Reason, "authorise") {
		t.Fatalf("missing archive role: %+v", r)
	}
	if roles[slbRole].Status != onboard.RolePresent {
		t.Fatalf("slb role: %+v", roles[slbRole])
	}
	r := regionOf(t, s, acct, region)
	if r.Status != onboard.StatusOK || fmt.Sprint(r.Enabled) != "[ngw-hk-later]" || fmt.Sprint(r.AlreadyEnabled) != "[ngw-hk alb-hk lb-hk]" {
		t.Fatalf("with roles missing: %+v", r)
	}
	if emu.HasRole(acct, albRole) {
		t.Fatal("a denied create made the role")
	}
}
