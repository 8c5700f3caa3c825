package openapiemu_test

import (
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

// A delay no test run reaches: a change completes only when the test says
// so (CompleteChanges), so that what is seen in between cannot race it.
const never = time.Hour

func TestNATChangeIsModifyingUntilApplied(t *testing.T) {
	f := setup(t)
	f.emu.SetControlPlaneDelay(never)
	f.emu.AddNATGateway(ownAccount, hangzhou, openapiemu.NATGateway{ID: "ngw-t", IPs: []openapiemu.NATIP{{EIP: "47.0.0.1"}}})
	dest := cloud.SLSDestination(hangzhou, ownAccount, "p", "nat")

	if err := f.cl.EnableNATSessionLog(ctx(t), hangzhou, "ngw-t", dest); err != nil {
		t.Fatal(err)
	}
	g, err := f.cl.NATGatewayState(ctx(t), hangzhou, "ngw-t")
	if err != nil || g.Status != cloud.NATStatusModifying || g.SessionLogEnabled || g.LogDestination != "" {
		t.Fatalf("right after the call: %+v %v", g, err)
	}
	// A second change meanwhile is refused, and changes nothing.
	err = f.cl.DisableNATSessionLog(ctx(t), hangzhou, "ngw-t")
	if cloud.Code(err) != "IncorrectStatus.NatGateway" || !cloud.IsConflict(err) {
		t.Fatalf("overlapping change: %v", err)
	}
	if n := f.emu.PendingChanges(); n != 1 {
		t.Fatalf("%d changes in flight, want 1", n)
	}

	f.emu.CompleteChanges()
	g, err = f.cl.NATGatewayState(ctx(t), hangzhou, "ngw-t")
	if err != nil || g.Status != "Available" || !g.SessionLogEnabled || g.LogDestination != dest ||
		g.DeliveryStatus != "Succsess" || g.DeliveryFailed() {
		t.Fatalf("applied: %+v %v", g, err)
	}
	// The gateway is free again.
	if err := f.cl.DisableNATSessionLog(ctx(t), hangzhou, "ngw-t"); err != nil {
		t.Fatal(err)
	}
}

func TestALBJobProcessingThenSucceededOrFailed(t *testing.T) {
	f := setup(t)
	f.emu.SetControlPlaneDelay(never)
	f.emu.AddALB(ownAccount, hangzhou, openapiemu.ALB{ID: "alb-t", Addresses: []openapiemu.ALBAddress{{Address: "39.0.0.1"}}})
	f.emu.AddALB(ownAccount, hangzhou, openapiemu.ALB{ID: "alb-f", Addresses: []openapiemu.ALBAddress{{Address: "39.0.0.2"}}})

	job, err := f.cl.EnableALBAccessLog(ctx(t), hangzhou, "alb-t", "p", "alb")
	if err != nil || job == "" {
		t.Fatalf("enable: job %q, %v", job, err)
	}
	j, ok, err := f.cl.ALBJob(ctx(t), hangzhou, job)
	if err != nil || !ok || j.Status != cloud.JobProcessing {
		t.Fatalf("job right after the call: %+v %v %v", j, ok, err)
	}
	al, status, err := f.cl.ALBAccessLog(ctx(t), hangzhou, "alb-t")
	if err != nil || al.Enabled() || status != "Configuring" {
		t.Fatalf("alb while configuring: %+v %q %v", al, status, err)
	}
	if _, err := f.cl.DisableALBAccessLog(ctx(t), hangzhou, "alb-t"); cloud.Code(err) != "Conflict.Lock" {
		t.Fatalf("overlapping change: %v", err)
	}
	// Jobs are the account's own.
	member := memberClient(t, f)
	if _, ok, err := member.ALBJob(ctx(t), hangzhou, job); err != nil || ok {
		t.Fatalf("another account sees the job: %v %v", ok, err)
	}

	f.emu.CompleteChanges()
	if j, ok, err := f.cl.ALBJob(ctx(t), hangzhou, job); err != nil || !ok || j.Status != cloud.JobSucceeded {
		t.Fatalf("job after completion: %+v %v %v", j, ok, err)
	}
	if al, status, _ := f.cl.ALBAccessLog(ctx(t), hangzhou, "alb-t"); al != (cloud.AccessLog{Project: "p", Logstore: "alb"}) || status != "Active" {
		t.Fatalf("alb after completion: %+v %q", al, status)
	}

	// A job that fails changes nothing and says why.
	f.emu.FailNextChanges(1)
	job, err = f.cl.EnableALBAccessLog(ctx(t), hangzhou, "alb-f", "p", "alb")
	if err != nil {
		t.Fatal(err)
	}
	f.emu.CompleteChanges()
	if j, ok, err := f.cl.ALBJob(ctx(t), hangzhou, job); err != nil || !ok || j.Status != cloud.JobFailed || j.ErrorCode == "" {
		t.Fatalf("failed job: %+v %v %v", j, ok, err)
	}
	if al, _, _ := f.cl.ALBAccessLog(ctx(t), hangzhou, "alb-f"); al.Enabled() {
		t.Fatalf("a failed job changed the access log: %+v", al)
	}
}

func TestCLBSettingAppearsLater(t *testing.T) {
	f := setup(t)
	f.emu.SetControlPlaneDelay(never)
	f.emu.AddCLB(ownAccount, hangzhou, openapiemu.CLB{ID: "lb-t", Address: "39.1.0.1"})
	if err := f.cl.EnableCLBAccessLog(ctx(t), hangzhou, "lb-t", "p", "clb"); err != nil {
		t.Fatal(err)
	}
	if al, err := f.cl.CLBAccessLog(ctx(t), hangzhou, "lb-t"); err != nil || al.Enabled() {
		t.Fatalf("visible before it applies: %+v %v", al, err)
	}
	if err := f.cl.DisableCLBAccessLog(ctx(t), hangzhou, "lb-t"); cloud.Code(err) != "OperationConflict" {
		t.Fatalf("overlapping change: %v", err)
	}
	f.emu.CompleteChanges()
	if al, err := f.cl.CLBAccessLog(ctx(t), hangzhou, "lb-t"); err != nil || al != (cloud.AccessLog{Project: "p", Logstore: "clb"}) {
		t.Fatalf("after completion: %+v %v", al, err)
	}
}

// Without a test's hand, changes complete by themselves after the delay.
func TestChangesCompleteByThemselves(t *testing.T) {
	f := setup(t)
	f.emu.SetControlPlaneDelay(50 * time.Millisecond)
	f.emu.AddNATGateway(ownAccount, hangzhou, openapiemu.NATGateway{ID: "ngw-s", IPs: []openapiemu.NATIP{{EIP: "47.0.0.2"}}})
	f.emu.FailNextChanges(1)
	if err := f.cl.EnableNATSessionLog(ctx(t), hangzhou, "ngw-s", cloud.SLSDestination(hangzhou, ownAccount, "p", "nat")); err != nil {
		t.Fatal(err)
	}
	var g cloud.NATGateway
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if g, err = f.cl.NATGatewayState(ctx(t), hangzhou, "ngw-s"); err != nil {
			t.Fatal(err)
		}
		if g.Status != cloud.NATStatusModifying {
			break
		}
	}
	// The gateway took the change; its delivery fails (FailNextChanges).
	if g.Status != "Available" || !g.SessionLogEnabled || !g.DeliveryFailed() || g.DeliveryStatus != "Failure" {
		t.Fatalf("after the delay: %+v", g)
	}
	if n := f.emu.PendingChanges(); n != 0 {
		t.Fatalf("%d changes still in flight", n)
	}
}

// memberClient acts in the member account with a key of its own.
func memberClient(t *testing.T, f *fixture) *cloud.Client {
	t.Helper()
	key := openapiemu.Credentials{AccessKeyID: "LTAI5tMemberAccountKey1", AccessKeySecret: "member-secret-0123456789ab"}
	f.emu.AddAccount(memberAccount, key)
	return newClient(t, cloud.Credentials{AccessKeyID: key.AccessKeyID, AccessKeySecret: key.AccessKeySecret}, nil)
}
