package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
)

// A member account with a NAT gateway in another region. Its gateway can
// deliver session logs only to a project of its own account and region;
// onboard (assuming the member's role) switches them on there and creates
// an ETL job that ships them, with account_id and region added, into the
// central NAT logstore, whose trigger feeds nat-ingest.
const (
	memberAcct    = "2000000000000002"
	memberRegion  = "cn-shanghai"
	memberRole    = "acs:ram::" + memberAcct + ":role/ndrtrace-onboard"
	memberGW      = "ngw-uf6member0nat"
	memberVPC     = "vpc-uf6member0vpc"
	memberEIP     = "47.101.8.8"
	memberHost    = "10.8.0.25"
	memberProject = "ndr-logs-" + memberAcct + "-" + memberRegion // onboard's default
)

func (d *demo) registerMember(created time.Time) {
	api := d.lc.OpenAPI
	api.AddRole(memberAcct, memberRole, d.lc.Account)        // onboard's role in the member, trusting the central account
	api.AddRole(memberAcct, cloud.ETLReaderRole(memberAcct)) // the role the member's ETL jobs read with
	d.lc.TrustETLSink(memberAcct)                            // the central sink role trusts the member
	api.AddNATGateway(memberAcct, memberRegion, openapiemu.NATGateway{ID: memberGW, Name: "member-egress", VPCID: memberVPC,
		IPs: []openapiemu.NATIP{{EIP: memberEIP, AllocationID: "eip-uf6member08"}}, Tags: map[string]string{tagKey: "all"}})
	for n := 20; n <= 30; n++ {
		api.AddENI(memberAcct, memberRegion, openapiemu.ENI{ID: fmt.Sprintf("eni-uf6member%04d", n), InstanceID: fmt.Sprintf("i-uf6member%06d", n),
			VPCID: memberVPC, PrimaryIP: fmt.Sprintf("10.8.0.%d", n), Created: created})
	}
}

// memberStory delivers the member gateway's session logs into its own
// project, waits for the ETL job to ship them into the central logstore,
// ingests that range with nat-ingest and traces an alert on the member's
// EIP.
func (d *demo) memberStory(ctx context.Context) ([]row, error) {
	central := d.lc.SLS
	_, shards, _, ok := central.Logstore(project, natLS)
	if !ok {
		return nil, fmt.Errorf("central logstore %s/%s missing", project, natLS)
	}
	before := make([]string, shards)
	for s := range before {
		c, err := central.Cursor(project, natLS, s, "end")
		if err != nil {
			return nil, err
		}
		before[s] = c
	}
	groupsBefore := len(central.LogGroups(project, natLS))

	at := d.t0.Add(7 * time.Minute)
	var recs []map[string]string
	for i := 0; i < 60; i++ {
		r := d.session(memberEIP, 20000+i, fmt.Sprintf("10.8.0.%d", 20+d.rng.IntN(11)), 41000+i, remotes[d.rng.IntN(len(remotes)-1)], 443,
			at.Add(time.Duration(i)*time.Second), 2*time.Minute, 1000+d.rng.IntN(20000))
		r["instance"], r["vpc_id"] = memberGW, memberVPC
		recs = append(recs, r)
	}
	r := d.session(memberEIP, 20500, memberHost, 41500, thirdPty, 80, at.Add(30*time.Second), 3*time.Minute, 900_000)
	r["instance"], r["vpc_id"] = memberGW, memberVPC
	recs = append(recs, r)
	// The gateway's delivery into the member's own project (the service
	// writes it; nothing of ndrtrace runs in the member account).
	src := d.lc.AccountSLS(memberAcct)
	if _, _, err := src.Append(memberProject, natLS, 0, natGroup(recs)); err != nil {
		return nil, fmt.Errorf("deliver into the member's project: %w", err)
	}
	fmt.Fprintf(d.out, "account %s, %s: NAT gateway %s (EIP %s) delivered %d session records into %s/%s\n",
		memberAcct, memberRegion, memberGW, memberEIP, len(recs), memberProject, natLS)

	start := time.Now()
	for len(central.LogGroups(project, natLS)) == groupsBefore {
		if time.Since(start) > 30*time.Second {
			st, reason, _, _ := src.ETLJob(memberProject, "ndrtrace-ship-nat")
			return nil, fmt.Errorf("the ETL job did not ship the member's records (job %s: %s)", st, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, _, shipped, _ := src.ETLJob(memberProject, "ndrtrace-ship-nat")
	fmt.Fprintf(d.out, "ETL job %s/ndrtrace-ship-nat (%s, %d log groups shipped) wrote them into %s/%s with account_id and region, signed with the central sink role\n",
		memberProject, st, shipped, project, natLS)

	ingested, mappings := 0, 0
	for s := range before {
		end, err := central.Cursor(project, natLS, s, "end")
		if err != nil {
			return nil, err
		}
		if end == before[s] {
			continue
		}
		sum, err := d.ingestEvent(ctx, cloud.ShardTriggerEvent(project, natLS, s, before[s], end))
		if err != nil {
			return nil, err
		}
		ingested += sum.Records
		mappings += sum.Mappings
	}
	fmt.Fprintf(d.out, "nat-ingest (the central trigger) ingested %d records: %d mappings\n\n", ingested, mappings)

	a := demoAlert{name: "member egress", src: memberEIP, sport: 20500, dst: thirdPty, dport: 80, at: at.Add(time.Minute)}
	res, err := d.traceOne(ctx, a.body("ndr-member-1"))
	if err != nil {
		return nil, err
	}
	rows := []row{toRow(a.name, "member account, other region", res)}
	printTable(d.out, rows, true)
	return rows, nil
}
