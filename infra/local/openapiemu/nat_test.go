package openapiemu_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

func addNATs(emu *openapiemu.Server, account, region string, n int) {
	for i := range n {
		emu.AddNATGateway(account, region, openapiemu.NATGateway{
			ID: fmt.Sprintf("ngw-%04d", i), Name: fmt.Sprintf("nat-%d", i), VPCID: "vpc-a",
			EipBindMode: "NAT",
			IPs:         []openapiemu.NATIP{{EIP: fmt.Sprintf("47.0.%d.%d", i/250, i%250), PrivateIP: fmt.Sprintf("172.16.%d.%d", i/250, i%250), AllocationID: fmt.Sprintf("eip-%04d", i)}},
			Tags:        map[string]string{"env": "prod"},
		})
	}
}

func TestNATListPagesAndReportsState(t *testing.T) {
	f := setup(t)
	addNATs(f.emu, ownAccount, hangzhou, 120)
	f.emu.AddNATGateway(ownAccount, hangzhou, openapiemu.NATGateway{ID: "ngw-spec", InternetChargeType: "PayBySpec", Spec: "Small", InstanceChargeType: "PrePaid"})
	addNATs(f.emu, memberAccount, hangzhou, 3) // another account's: invisible

	gws, err := f.cl.ListNATGateways(ctx(t), hangzhou)
	if err != nil {
		t.Fatal(err)
	}
	if len(gws) != 121 {
		t.Fatalf("got %d gateways, want 121", len(gws))
	}
	if n := len(f.emu.Calls("DescribeNatGateways")); n != 3 {
		t.Fatalf("%d DescribeNatGateways pages, want 3", n)
	}
	g := gws[7]
	if g.ID != "ngw-0007" || g.VPCID != "vpc-a" || g.Region != hangzhou || g.EipBindMode != "NAT" ||
		len(g.IPs) != 1 || g.IPs[0] != (cloud.NATIP{EIP: "47.0.0.7", PrivateIP: "172.16.0.7", AllocationID: "eip-0007"}) ||
		g.Tags["env"] != "prod" || g.SessionLogEnabled || !g.SessionLogSupported() {
		t.Fatalf("gateway: %+v", g)
	}
	spec := gws[120]
	if spec.ID != "ngw-spec" || !spec.PayBySpec() || spec.Spec != "Small" || spec.InstanceChargeType != "PrePaid" {
		t.Fatalf("pay-by-spec gateway: %+v", spec)
	}
}

func TestNATSessionLogEnableDisable(t *testing.T) {
	f := setup(t)
	addNATs(f.emu, ownAccount, hangzhou, 2)
	dest := cloud.SLSDestination(hangzhou, ownAccount, "ndr-nat", "session")

	if err := f.cl.EnableNATSessionLog(ctx(t), hangzhou, "ngw-0001", dest); err != nil {
		t.Fatal(err)
	}
	st, _ := f.emu.NATGateway(ownAccount, hangzhou, "ngw-0001")
	if !st.SessionLogEnabled || st.LogDestination != dest || st.LogDeliveryType != "sls" {
		t.Fatalf("emulator state: %+v", st)
	}
	// LogDelivery travelled as one JSON string, never flattened.
	mod := f.emu.Calls("ModifyNatGatewayAttribute")
	if len(mod) != 1 {
		t.Fatalf("%d modify calls", len(mod))
	}
	var ld map[string]string
	if err := json.Unmarshal([]byte(mod[0].Params["LogDelivery"]), &ld); err != nil ||
		ld["LogDeliveryType"] != "sls" || ld["LogDestination"] != dest {
		t.Fatalf("LogDelivery param %q (%v)", mod[0].Params["LogDelivery"], err)
	}
	for k := range mod[0].Params {
		if strings.HasPrefix(k, "LogDelivery.") {
			t.Fatalf("flattened parameter %s sent", k)
		}
	}
	if mod[0].Params["EnableSessionLog"] != "true" || mod[0].Params["NatGatewayId"] != "ngw-0001" {
		t.Fatalf("params %v", mod[0].Params)
	}

	gws, err := f.cl.ListNATGateways(ctx(t), hangzhou)
	if err != nil {
		t.Fatal(err)
	}
	if gws[0].SessionLogEnabled || !gws[1].SessionLogEnabled || gws[1].LogDestination != dest || gws[1].DeliveryStatus != "Succsess" {
		t.Fatalf("describe after enable: %+v / %+v", gws[0], gws[1])
	}

	if err := f.cl.DisableNATSessionLog(ctx(t), hangzhou, "ngw-0001"); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.emu.NATGateway(ownAccount, hangzhou, "ngw-0001"); st.SessionLogEnabled {
		t.Fatal("still enabled after disable")
	}
}

func TestNATSessionLogRefusedOnPayBySpec(t *testing.T) {
	f := setup(t)
	f.emu.AddNATGateway(ownAccount, hangzhou, openapiemu.NATGateway{ID: "ngw-spec", InternetChargeType: "PayBySpec"})
	err := f.cl.EnableNATSessionLog(ctx(t), hangzhou, "ngw-spec", cloud.SLSDestination(hangzhou, ownAccount, "p", "l"))
	if cloud.Code(err) != "OperationUnsupported.SessionLog" || cloud.HTTPStatus(err) != 400 {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.emu.Calls("ModifyNatGatewayAttribute")); n != 1 {
		t.Fatalf("a client error was retried: %d calls", n)
	}
	// A destination in another region is refused too (SLS project must be local).
	f.emu.AddNATGateway(ownAccount, hangzhou, openapiemu.NATGateway{ID: "ngw-ok"})
	err = f.cl.EnableNATSessionLog(ctx(t), hangzhou, "ngw-ok", cloud.SLSDestination(shanghai, ownAccount, "p", "l"))
	if cloud.Code(err) != "InvalidParameter" {
		t.Fatalf("cross-region destination: %v", err)
	}
}

// A second onboarding pass over an unchanged inventory must not write.
func TestNATOnboardingIsIdempotent(t *testing.T) {
	f := setup(t)
	addNATs(f.emu, ownAccount, hangzhou, 5)
	f.emu.AddNATGateway(ownAccount, hangzhou, openapiemu.NATGateway{ID: "ngw-spec", InternetChargeType: "PayBySpec"})
	dest := cloud.SLSDestination(hangzhou, ownAccount, "ndr", "nat")
	pass := func() {
		gws, err := f.cl.ListNATGateways(ctx(t), hangzhou)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gws {
			if g.SessionLogSupported() && !(g.SessionLogEnabled && g.LogDestination == dest) {
				if err := f.cl.EnableNATSessionLog(ctx(t), hangzhou, g.ID, dest); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	pass()
	if n := len(f.emu.Calls("ModifyNatGatewayAttribute")); n != 5 {
		t.Fatalf("first pass: %d modify calls, want 5", n)
	}
	f.emu.ResetCalls()
	pass()
	if n := len(f.emu.Calls("ModifyNatGatewayAttribute")); n != 0 {
		t.Fatalf("second pass wrote %d times", n)
	}
}
