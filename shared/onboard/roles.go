package onboard

import (
	"context"
	"fmt"
	"slices"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

// Access-log delivery writes into SLS with roles of the load balancer's
// account. ALB delivers with its service-linked role, CLB with its own and
// with the account's AliyunLogArchiveRole. Onboarding checks them the
// first time an account onboards an ALB or a CLB, creates the
// service-linked ones that are missing (ram:CreateServiceLinkedRole, which
// the RAM policies allow for exactly these two services) and reports the
// rest: a missing role is never silent, and never stops the other assets.

// A delivery role a kind of log needs.
type deliveryRole struct {
	Name    string
	Service string // for CreateServiceLinkedRole; "" when it cannot be created so
	Fix     string // what the operator does when it is missing and cannot be created
}

// deliveryRoles are the roles per kind. The names and service names are
// those of RAM's system-policy pages (AliyunServiceRolePolicyForAlbLogDelivery,
// ...ForSlbLogDelivery); that ALB delivery needs no AliyunLogArchiveRole is
// INFERRED from its documentation naming only the service-linked role.
var deliveryRoles = map[mapping.Kind][]deliveryRole{
	mapping.KindALB: {{Name: "AliyunServiceRoleForAlbLogDelivery", Service: "logdelivery.alb.aliyuncs.com"}},
	mapping.KindCLB: {
		{Name: "AliyunServiceRoleForSlbLogDelivery", Service: "logdelivery.slb.aliyuncs.com"},
		{Name: "AliyunLogArchiveRole", Fix: "authorise it once in this account: SLS console, or the CLB console's access-log page (Authorize)"},
	},
}

// Role statuses in the summary.
const (
	RolePresent     = "present"
	RoleCreated     = "created"
	RoleWouldCreate = "would_create" // dry run
	RoleMissing     = "missing"
)

// RoleCheck is one delivery role of one account, as a run found it.
type RoleCheck struct {
	AccountID string `json:"account_id"`
	Role      string `json:"role"`
	// For names the logs that need it: "alb access log", "clb access log".
	For    string `json:"for"`
	Status string `json:"status"`
	// Reason says, for a missing role, why and what to do.
	Reason string `json:"reason,omitempty"`
}

// roleChecker checks an account's roles once per run.
type roleChecker struct {
	cl      Cloud
	account string
	dryRun  bool
	done    map[string]bool
	checks  []RoleCheck
}

func newRoleChecker(cl Cloud, account string, dryRun bool) *roleChecker {
	return &roleChecker{cl: cl, account: account, dryRun: dryRun, done: map[string]bool{}}
}

// need checks the roles kind k's logs need, once each per run. It returns
// the actions it took.
func (rc *roleChecker) need(ctx context.Context, k mapping.Kind) []string {
	var actions []string
	for _, dr := range deliveryRoles[k] {
		if rc.done[dr.Name] {
			continue
		}
		rc.done[dr.Name] = true
		chk := RoleCheck{AccountID: rc.account, Role: dr.Name, For: k.String() + " access log", Status: RolePresent}
		ok, err := rc.cl.RoleExists(ctx, dr.Name)
		switch {
		case err != nil:
			chk.Status, chk.Reason = RoleMissing, "could not check it (ram:GetRole): "+err.Error()
		case ok:
		case dr.Service == "":
			chk.Status, chk.Reason = RoleMissing, "it does not exist; "+dr.Fix
		case rc.dryRun:
			chk.Status = RoleWouldCreate
			actions = append(actions, fmt.Sprintf("create service-linked role %s (%s)", dr.Name, dr.Service))
		default:
			actions = append(actions, fmt.Sprintf("create service-linked role %s (%s)", dr.Name, dr.Service))
			if err := rc.cl.CreateServiceLinkedRole(ctx, dr.Service); err != nil {
				chk.Status, chk.Reason = RoleMissing, fmt.Sprintf("it does not exist and creating it failed (%s); create it with ram:CreateServiceLinkedRole ServiceName=%s, or switch the log on once in the console", err, dr.Service)
			} else {
				chk.Status = RoleCreated
			}
		}
		rc.checks = append(rc.checks, chk)
	}
	return actions
}

// ServiceLinkedRoleServices lists the services whose service-linked roles
// onboarding may create, sorted: the RAM policies allow
// ram:CreateServiceLinkedRole for exactly these (infra/deploy checks it).
func ServiceLinkedRoleServices() []string {
	var out []string
	for _, drs := range deliveryRoles {
		for _, dr := range drs {
			if dr.Service != "" && !slices.Contains(out, dr.Service) {
				out = append(out, dr.Service)
			}
		}
	}
	slices.Sort(out)
	return out
}
