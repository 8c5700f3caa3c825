package openapiemu_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

func TestALBListPagesAndEnableAccessLog(t *testing.T) {
	f := setup(t)
	for i := range 130 {
		f.emu.AddALB(ownAccount, hangzhou, openapiemu.ALB{
			ID: fmt.Sprintf("alb-%04d", i), Name: fmt.Sprintf("web-%d", i), VPCID: "vpc-web",
			Addresses: []openapiemu.ALBAddress{
				{ZoneID: "cn-hangzhou-h", Address: fmt.Sprintf("47.1.0.%d", i%250), IntranetAddress: "10.0.1.10"},
				{ZoneID: "cn-hangzhou-i", Address: fmt.Sprintf("47.2.0.%d", i%250), IntranetAddress: "10.0.2.10"},
			},
			Tags: map[string]string{"team": "web"},
		})
	}
	albs, err := f.cl.ListALBs(ctx(t), hangzhou)
	if err != nil {
		t.Fatal(err)
	}
	if len(albs) != 130 {
		t.Fatalf("got %d ALBs", len(albs))
	}
	list := f.emu.Calls("ListLoadBalancers")
	if len(list) != 2 || list[0].Params["NextToken"] != "" || list[1].Params["NextToken"] == "" {
		t.Fatalf("paging calls: %+v", list)
	}
	a := albs[3]
	want := []cloud.LBAddress{{Public: "47.1.0.3", Private: "10.0.1.10"}, {Public: "47.2.0.3", Private: "10.0.2.10"}}
	if a.ID != "alb-0003" || a.VPCID != "vpc-web" || a.AddressType != "Internet" || len(a.Addresses) != 2 ||
		a.Addresses[0] != want[0] || a.Addresses[1] != want[1] || a.Tags["team"] != "web" || a.AccessLog.Enabled() {
		t.Fatalf("alb: %+v", a)
	}

	if _, err := f.cl.EnableALBAccessLog(ctx(t), hangzhou, "alb-0003", "ndr-lb", "alb-access"); err != nil {
		t.Fatal(err)
	}
	st, _ := f.emu.ALB(ownAccount, hangzhou, "alb-0003")
	if st.LogProject != "ndr-lb" || st.LogStore != "alb-access" {
		t.Fatalf("emulator state %+v", st)
	}
	en := f.emu.Calls("EnableLoadBalancerAccessLog")
	if len(en) != 1 || en[0].Params["ClientToken"] == "" {
		t.Fatalf("enable calls %+v", en)
	}
	albs, err = f.cl.ListALBs(ctx(t), hangzhou)
	if err != nil {
		t.Fatal(err)
	}
	if albs[3].AccessLog != (cloud.AccessLog{Project: "ndr-lb", Logstore: "alb-access"}) || albs[4].AccessLog.Enabled() {
		t.Fatalf("after enable: %+v / %+v", albs[3].AccessLog, albs[4].AccessLog)
	}
	if _, err := f.cl.EnableALBAccessLog(ctx(t), hangzhou, "alb-missing", "p", "l"); cloud.Code(err) != "ResourceNotFound.LoadBalancer" {
		t.Fatalf("missing ALB: %v", err)
	}
}

func TestCLBListPagesAndEnableAccessLog(t *testing.T) {
	f := setup(t)
	for i := range 230 {
		f.emu.AddCLB(ownAccount, hangzhou, openapiemu.CLB{
			ID: fmt.Sprintf("lb-%04d", i), Name: fmt.Sprintf("clb-%d", i), VPCID: "vpc-clb",
			Address: fmt.Sprintf("39.0.%d.%d", i/250, i%250), Tags: map[string]string{"k": "v"},
		})
	}
	f.emu.AddCLB(ownAccount, hangzhou, openapiemu.CLB{ID: "lb-logged", Address: "39.9.9.9", LogProject: "old", LogStore: "old-ls"})

	clbs, err := f.cl.ListCLBs(ctx(t), hangzhou)
	if err != nil {
		t.Fatal(err)
	}
	if len(clbs) != 231 {
		t.Fatalf("got %d CLBs", len(clbs))
	}
	if n := len(f.emu.Calls("DescribeLoadBalancers")); n != 3 {
		t.Fatalf("%d DescribeLoadBalancers pages, want 3", n)
	}
	c := clbs[5]
	if c.ID != "lb-0005" || c.Address != "39.0.0.5" || c.AddressType != "internet" || c.VPCID != "vpc-clb" ||
		c.Tags["k"] != "v" || c.AccessLog.Enabled() {
		t.Fatalf("clb: %+v", c)
	}
	if l := clbs[230]; l.ID != "lb-logged" || l.AccessLog != (cloud.AccessLog{Project: "old", Logstore: "old-ls"}) {
		t.Fatalf("pre-configured clb: %+v", l)
	}

	if err := f.cl.EnableCLBAccessLog(ctx(t), hangzhou, "lb-0005", "ndr-lb", "clb-access"); err != nil {
		t.Fatal(err)
	}
	set := f.emu.Calls("SetAccessLogsDownloadAttribute")
	var attrs []map[string]string
	if len(set) != 1 || json.Unmarshal([]byte(set[0].Params["LogsDownloadAttributes"]), &attrs) != nil || len(attrs) != 1 ||
		attrs[0]["LoadBalancerId"] != "lb-0005" || attrs[0]["LogProject"] != "ndr-lb" || attrs[0]["LogStore"] != "clb-access" || attrs[0]["LogType"] != "layer7" {
		t.Fatalf("set call %+v", set)
	}
	if st, _ := f.emu.CLB(ownAccount, hangzhou, "lb-0005"); st.LogProject != "ndr-lb" || st.LogStore != "clb-access" {
		t.Fatalf("emulator state %+v", st)
	}
	clbs, err = f.cl.ListCLBs(ctx(t), hangzhou)
	if err != nil {
		t.Fatal(err)
	}
	if clbs[5].AccessLog != (cloud.AccessLog{Project: "ndr-lb", Logstore: "clb-access"}) {
		t.Fatalf("after enable: %+v", clbs[5])
	}
}
