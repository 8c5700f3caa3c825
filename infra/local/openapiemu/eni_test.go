package openapiemu_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

func TestFindENIPrimarySecondaryMiss(t *testing.T) {
	f := setup(t)
	f.emu.AddENI(ownAccount, hangzhou, openapiemu.ENI{ID: "eni-primary", InstanceID: "i-web1", VPCID: "vpc-a", PrimaryIP: "172.16.20.21"})
	f.emu.AddENI(ownAccount, hangzhou, openapiemu.ENI{ID: "eni-multi", InstanceID: "i-web2", VPCID: "vpc-a", PrimaryIP: "172.16.20.30", SecondaryIPs: []string{"172.16.20.31", "172.16.20.32"}})
	f.emu.AddENI(ownAccount, hangzhou, openapiemu.ENI{ID: "eni-othervpc", InstanceID: "i-other", VPCID: "vpc-b", PrimaryIP: "172.16.20.40"})

	eni, ok, err := f.cl.FindENI(ctx(t), hangzhou, "vpc-a", "172.16.20.21")
	if err != nil || !ok || eni.ID != "eni-primary" || eni.InstanceID != "i-web1" || eni.VPCID != "vpc-a" || eni.PrivateIP != "172.16.20.21" {
		t.Fatalf("primary: %+v %v %v", eni, ok, err)
	}
	if n := len(f.emu.Calls("DescribeNetworkInterfaces")); n != 1 {
		t.Fatalf("primary hit took %d calls", n)
	}

	f.emu.ResetCalls()
	eni, ok, err = f.cl.FindENI(ctx(t), hangzhou, "vpc-a", "172.16.20.32")
	if err != nil || !ok || eni.ID != "eni-multi" || eni.InstanceID != "i-web2" {
		t.Fatalf("secondary: %+v %v %v", eni, ok, err)
	}
	dc := f.emu.Calls("DescribeNetworkInterfaces")
	if len(dc) != 2 || dc[0].Params["PrimaryIpAddress"] != "172.16.20.32" || dc[1].Params["PrivateIpAddress.1"] != "172.16.20.32" ||
		dc[0].Params["VpcId"] != "vpc-a" || dc[1].Params["VpcId"] != "vpc-a" {
		t.Fatalf("lookup order: %+v", dc)
	}

	if _, ok, err := f.cl.FindENI(ctx(t), hangzhou, "vpc-a", "172.16.20.40"); ok || err != nil {
		t.Fatalf("other VPC's address found: %v %v", ok, err)
	}
	if _, ok, err := f.cl.FindENI(ctx(t), hangzhou, "vpc-a", "10.9.9.9"); ok || err != nil {
		t.Fatalf("miss: %v %v", ok, err)
	}
}

// The emulator pages DescribeNetworkInterfaces by NextToken as the real SDK
// drives it directly.
func TestENITokenPaging(t *testing.T) {
	f := setup(t)
	for i := range 25 {
		f.emu.AddENI(ownAccount, hangzhou, openapiemu.ENI{ID: fmt.Sprintf("eni-%03d", i), VPCID: "vpc-p", PrimaryIP: fmt.Sprintf("10.1.0.%d", i)})
	}
	cfg := sdk.NewConfig()
	cfg.Scheme = "http"
	cl, err := ecs.NewClientWithOptions(hangzhou, cfg, credentials.NewAccessKeyCredential(ownKey.AccessKeyID, ownKey.AccessKeySecret))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		req := ecs.CreateDescribeNetworkInterfacesRequest()
		req.VpcId = "vpc-p"
		req.MaxResults = requests.NewInteger(10)
		req.NextToken = token
		resp, err := cl.DescribeNetworkInterfaces(req)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range resp.NetworkInterfaceSets.NetworkInterfaceSet {
			ids = append(ids, n.NetworkInterfaceId)
		}
		if resp.NextToken == "" {
			break
		}
		token = resp.NextToken
	}
	if len(ids) != 25 || ids[0] != "eni-000" || ids[24] != "eni-024" {
		t.Fatalf("ids %v", ids)
	}
	if n := len(f.emu.Calls("DescribeNetworkInterfaces")); n != 3 {
		t.Fatalf("%d pages, want 3", n)
	}
}

func TestListENIsEveryPageWithAddressesAndCreation(t *testing.T) {
	f := setup(t)
	created := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for i := range 1203 { // three pages of 500
		f.emu.AddENI(ownAccount, hangzhou, openapiemu.ENI{ID: fmt.Sprintf("eni-%04d", i), InstanceID: fmt.Sprintf("i-%04d", i),
			VPCID: "vpc-l", PrimaryIP: fmt.Sprintf("10.2.%d.%d", i/250, i%250), Created: created})
	}
	f.emu.AddENI(ownAccount, hangzhou, openapiemu.ENI{ID: "eni-multi", VPCID: "vpc-l", PrimaryIP: "10.3.0.1", SecondaryIPs: []string{"10.3.0.2"}})
	f.emu.AddENI(ownAccount, "cn-beijing", openapiemu.ENI{ID: "eni-elsewhere", VPCID: "vpc-x", PrimaryIP: "10.4.0.1"})
	enis, err := f.cl.ListENIs(ctx(t), hangzhou)
	if err != nil || len(enis) != 1204 {
		t.Fatalf("%d ENIs, %v", len(enis), err)
	}
	if n := len(f.emu.Calls("DescribeNetworkInterfaces")); n != 3 {
		t.Fatalf("%d pages", n)
	}
	byID := map[string]cloud.ENI{}
	for _, e := range enis {
		byID[e.ID] = e
	}
	if e := byID["eni-0007"]; e.InstanceID != "i-0007" || !e.Created.Equal(created) || fmt.Sprint(e.Addresses) != "[10.2.0.7]" {
		t.Fatalf("eni-0007: %+v", e)
	}
	if e := byID["eni-multi"]; !e.Created.IsZero() || fmt.Sprint(e.Addresses) != "[10.3.0.1 10.3.0.2]" || e.InstanceID != "" {
		t.Fatalf("eni-multi: %+v", e)
	}
}

func TestStallAndDropRegion(t *testing.T) {
	f := setup(t)
	f.emu.AddENI(ownAccount, hangzhou, openapiemu.ENI{ID: "eni-s", VPCID: "vpc-s", PrimaryIP: "10.5.0.1"})
	cl := newClient(t, cloud.Credentials{AccessKeyID: ownKey.AccessKeyID, AccessKeySecret: ownKey.AccessKeySecret}, func(c *cloud.Config) { c.MaxAttempts = 1 })

	// A stall far beyond the caller's patience: the caller's own deadline
	// ends the call, and the emulator records that it gave up.
	f.emu.StallRegion(hangzhou, time.Hour)
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err := cl.ListENIs(c, hangzhou)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled call: %v", err)
	}
	if _, err := cl.ListENIs(ctx(t), "cn-beijing"); err != nil { // other regions answer
		t.Fatalf("other region: %v", err)
	}
	f.emu.StallRegion(hangzhou, 0)
	if enis, err := cl.ListENIs(ctx(t), hangzhou); err != nil || len(enis) != 1 {
		t.Fatalf("after the stall: %d %v", len(enis), err)
	}

	f.emu.ResetCalls()
	f.emu.DropRegion(hangzhou, true)
	if _, err := cl.ListENIs(ctx(t), hangzhou); err == nil {
		t.Fatal("a dropped connection answered")
	}
	if dc := f.emu.Calls("DescribeNetworkInterfaces"); len(dc) != 1 || dc[0].Code != "ConnectionDropped" {
		t.Fatalf("calls %+v", dc)
	}
	f.emu.DropRegion(hangzhou, false)
	if _, err := cl.ListENIs(ctx(t), hangzhou); err != nil {
		t.Fatalf("after the drop: %v", err)
	}
}
