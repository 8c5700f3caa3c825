package openapiemu_test

import (
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

func TestServiceLinkedRolesPerAccount(t *testing.T) {
	f := setup(t)
	member := memberClient(t, f)
	const alb = "AliyunServiceRoleForAlbLogDelivery"
	for _, cl := range []*cloud.Client{f.cl, member} {
		if ok, err := cl.RoleExists(ctx(t), alb); err != nil || ok {
			t.Fatalf("before: %v %v", ok, err)
		}
	}
	if err := f.cl.CreateServiceLinkedRole(ctx(t), "logdelivery.alb.aliyuncs.com"); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.cl.RoleExists(ctx(t), alb); err != nil || !ok || !f.emu.HasRole(ownAccount, alb) {
		t.Fatalf("created: %v %v", ok, err)
	}
	// Roles are the account's own.
	if ok, err := member.RoleExists(ctx(t), alb); err != nil || ok {
		t.Fatalf("the member sees the own account's role: %v %v", ok, err)
	}
	// Creating it again is no error for the client (EntityAlreadyExists.Role).
	if err := f.cl.CreateServiceLinkedRole(ctx(t), "logdelivery.alb.aliyuncs.com"); err != nil {
		t.Fatal(err)
	}
	if c := f.emu.Calls("CreateServiceLinkedRole"); len(c) != 2 || c[1].Code != "EntityAlreadyExists.Role" || c[0].Params["ServiceName"] != "logdelivery.alb.aliyuncs.com" {
		t.Fatalf("calls %+v", c)
	}
	if err := f.cl.CreateServiceLinkedRole(ctx(t), "logdelivery.nope.aliyuncs.com"); cloud.Code(err) == "" {
		t.Fatalf("unknown service: %v", err)
	}
	f.emu.FailNext("CreateServiceLinkedRole", 1, "NoPermission", 0)
	if err := member.CreateServiceLinkedRole(ctx(t), "logdelivery.slb.aliyuncs.com"); cloud.Code(err) != "NoPermission" {
		t.Fatalf("denied: %v", err)
	}
	if f.emu.HasRole(memberAccount, "AliyunServiceRoleForSlbLogDelivery") {
		t.Fatal("a denied create made the role")
	}
}
