package openapiemu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

const memberRole = "acs:ram::" + memberAccount + ":role/ndrtrace-onboard"

func TestAssumeRoleActsInMemberAccount(t *testing.T) {
	f := setup(t)
	f.emu.AddRole(memberAccount, memberRole, ownAccount)
	addNATs(f.emu, ownAccount, hangzhou, 2)
	f.emu.AddNATGateway(memberAccount, hangzhou, openapiemu.NATGateway{ID: "ngw-member", VPCID: "vpc-m"})

	creds, err := f.cl.AssumeRole(ctx(t), memberRole, "ndrtrace-onboard", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(creds.AccessKeyID, "STS.") || creds.SecurityToken == "" || creds.AccessKeySecret == "" ||
		time.Until(creds.Expiration) > 16*time.Minute || time.Until(creds.Expiration) < 14*time.Minute {
		t.Fatalf("credentials %v", creds)
	}
	ac := f.emu.Calls("AssumeRole")
	if len(ac) != 1 || ac[0].Account != ownAccount || ac[0].Params["DurationSeconds"] != "900" || ac[0].Host != cloud.DefaultSTSEndpoint {
		t.Fatalf("assume call %+v", ac)
	}

	member, err := f.cl.WithCredentials(creds)
	if err != nil {
		t.Fatal(err)
	}
	gws, err := member.ListNATGateways(ctx(t), hangzhou)
	if err != nil {
		t.Fatal(err)
	}
	if len(gws) != 1 || gws[0].ID != "ngw-member" {
		t.Fatalf("member sees %+v", gws)
	}
	dc := f.emu.Calls("DescribeNatGateways")
	if last := dc[len(dc)-1]; last.Account != memberAccount || last.AccessKeyID != creds.AccessKeyID {
		t.Fatalf("call attributed to %+v", last)
	}
	if err := member.EnableNATSessionLog(ctx(t), hangzhou, "ngw-member", cloud.SLSDestination(hangzhou, ownAccount, "central", "nat")); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.emu.NATGateway(memberAccount, hangzhou, "ngw-member"); !st.SessionLogEnabled {
		t.Fatal("member gateway not enabled")
	}

	// The STS key is useless without its token.
	bare, _ := f.cl.WithCredentials(cloud.Credentials{AccessKeyID: creds.AccessKeyID, AccessKeySecret: creds.AccessKeySecret})
	if _, err := bare.ListNATGateways(ctx(t), hangzhou); cloud.Code(err) != "InvalidSecurityToken.MismatchWithAccessKey" {
		t.Fatalf("STS key without token: %v", err)
	}
}

func TestAssumeRoleRefusals(t *testing.T) {
	f := setup(t)
	f.emu.AddRole(memberAccount, memberRole) // trusts nobody else
	_, err := f.cl.AssumeRole(ctx(t), memberRole, "ndrtrace", time.Hour)
	if cloud.Code(err) != "NoPermission" || cloud.HTTPStatus(err) != 403 {
		t.Fatalf("untrusted: %v", err)
	}
	_, err = f.cl.AssumeRole(ctx(t), "acs:ram::"+memberAccount+":role/nope", "ndrtrace", time.Hour)
	if cloud.Code(err) != "EntityNotExist.Role" || !strings.Contains(err.Error(), "sts AssumeRole acs:ram::") {
		t.Fatalf("unknown role: %v", err)
	}
}
