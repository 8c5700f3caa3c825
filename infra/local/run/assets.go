package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
)

// The account's network, as the OpenAPI emulator serves it: two Internet NAT
// gateways of one VPC (one binds its EIP in NAT mode), a pay-by-specification
// gateway that cannot have session logs, an ALB and a CLB in front of a web
// VPC, an untagged CLB, and the ENIs of every ECS instance, created three
// days before the demo: onboarding's address history takes an instance's
// primary ENI's creation as the start of its holding of its address, so the
// investigation of a surge the day before names the instances.
const (
	region    = "cn-hangzhou"
	tagKey    = "ndr-trace"
	gateway   = "ngw-bp1demo0nat"
	gateway2  = "ngw-bp1demo0nat2"
	oldGW     = "ngw-bp1demo0spec"
	vpc       = "vpc-bp1demo0vpc"
	webVPC    = "vpc-bp1demo0web"
	eip       = "47.100.1.85"  // Multi-EIP-to-ENI mode: logged as is
	eipNAT    = "47.100.1.86"  // NAT mode...
	eipNATPri = "172.16.10.13" // ...logged as its private address
	eipSpec   = "47.100.1.90"
	albID     = "alb-bp1demo0shop"
	albVIP    = "39.100.1.20"
	clbID     = "lb-bp1demo0api"
	clbVIP    = "47.96.2.30"
	otherCLB  = "lb-bp1demo0legacy"
	otherVIP  = "47.96.2.31"
)

func instanceID(n int) string { return fmt.Sprintf("i-bp1demo%06d", n) }

func (d *demo) registerAssets() {
	api, acct := d.lc.OpenAPI, d.lc.Account
	all := map[string]string{tagKey: "all"}
	created := d.now.Add(-3 * 24 * time.Hour).Truncate(time.Hour)
	api.AddNATGateway(acct, region, openapiemu.NATGateway{ID: gateway, Name: "prod-egress", VPCID: vpc, EipBindMode: "MULTI_BINDED",
		IPs: []openapiemu.NATIP{{EIP: eip, AllocationID: "eip-bp1demo0085"}}, Tags: all})
	api.AddNATGateway(acct, region, openapiemu.NATGateway{ID: gateway2, Name: "prod-egress-2", VPCID: vpc, EipBindMode: "NAT",
		IPs: []openapiemu.NATIP{{EIP: eipNAT, PrivateIP: eipNATPri, AllocationID: "eip-bp1demo0086"}}, Tags: all})
	api.AddNATGateway(acct, region, openapiemu.NATGateway{ID: oldGW, Name: "legacy-egress", VPCID: vpc, InternetChargeType: "PayBySpec", Spec: "Small",
		IPs: []openapiemu.NATIP{{EIP: eipSpec, AllocationID: "eip-bp1demo0090"}}, Tags: all})
	api.AddALB(acct, region, openapiemu.ALB{ID: albID, Name: "shop", VPCID: webVPC,
		Addresses: []openapiemu.ALBAddress{{ZoneID: "cn-hangzhou-h", Address: albVIP, IntranetAddress: "192.168.0.20"}},
		Tags:      map[string]string{tagKey: "attack"}})
	api.AddCLB(acct, region, openapiemu.CLB{ID: clbID, Name: "api", VPCID: webVPC, Address: clbVIP, Tags: all})
	api.AddCLB(acct, region, openapiemu.CLB{ID: otherCLB, Name: "legacy", VPCID: webVPC, Address: otherVIP})
	for n := 1; n <= 50; n++ {
		api.AddENI(acct, region, openapiemu.ENI{ID: fmt.Sprintf("eni-bp1demo%06d", n), InstanceID: instanceID(n), VPCID: vpc,
			PrimaryIP: fmt.Sprintf("172.16.20.%d", n), Created: created})
	}
	d.registerMember(created)
	for n, ip := range []string{"192.168.1.9", "192.168.1.10", "192.168.1.11", "192.168.1.12", "192.168.1.13", "192.168.2.7"} {
		api.AddENI(acct, region, openapiemu.ENI{ID: fmt.Sprintf("eni-bp1demoweb%03d", n), InstanceID: instanceID(900 + n), VPCID: webVPC, PrimaryIP: ip, Created: created})
	}
}

// onboardEnv configures onboard (and nothing else needs it: trace learns
// accounts and roles from the inventory).
func onboardEnv() map[string]string {
	return map[string]string{
		"ONBOARD_ACCOUNTS": fmt.Sprintf(`[{"regions":[%q],"project":%q,"nat_logstore":%q,"alb_logstore":%q,"clb_logstore":%q},{"role_arn":%q,"regions":[%q]}]`,
			region, project, natLS, albLS, clbLS, memberRole, memberRegion),
		"ONBOARD_RETENTION_DAYS": "30",
		"ONBOARD_TAG_KEY":        tagKey,
	}
}

// runOnboard has the compiled onboard function do its timer run.
func (d *demo) runOnboard(ctx context.Context) error {
	fn, err := d.lc.Function(ctx, "onboard", onboardEnv())
	if err != nil {
		return err
	}
	res, err := fn.Invoke(ctx, []byte(`{"triggerTime":"`+d.now.UTC().Format("2006-01-02T15:04:05Z")+`","triggerName":"onboard-timer","payload":""}`))
	if err != nil {
		return err
	}
	if res.Error != nil {
		return fmt.Errorf("onboard: %v", res.Error)
	}
	var s onboard.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "onboard (timer run, compiled binary against the OpenAPI and SLS emulators):")
	for _, r := range s.Results {
		fmt.Fprintf(d.out, "  account %s %s: %s\n", r.AccountID, r.Region, r.Status)
		fmt.Fprintf(d.out, "    discovered       %s\n", strings.Join(r.Discovered, " "))
		fmt.Fprintf(d.out, "    logging enabled  %s\n", strings.Join(r.Enabled, " "))
		for _, sk := range r.Skipped {
			fmt.Fprintf(d.out, "    skipped          %s: %s\n", sk.ID, sk.Reason)
		}
		for _, f := range r.Failed {
			fmt.Fprintf(d.out, "    failed           %s: %s\n", f.ID, f.Reason)
		}
		for _, sh := range r.Shipping {
			fmt.Fprintf(d.out, "    shipping         %s: %s -> %s (ETL job %s: %s)\n", sh.Kind, sh.Source, sh.Sink, sh.Job, sh.Status)
		}
	}
	ttl, _, index, _ := d.lc.SLS.Logstore(project, natLS)
	fmt.Fprintf(d.out, "  logstore %s/%s: retention %d days, index on %d fields; inventory filled: %v\n", project, natLS, ttl, indexKeys(index), s.InventoryFilled)
	return nil
}

func indexKeys(index []byte) int {
	var ix struct {
		Keys map[string]json.RawMessage `json:"keys"`
	}
	json.Unmarshal(index, &ix)
	return len(ix.Keys)
}
