package openapiemu_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

func TestThrottlingIsRetried(t *testing.T) {
	f := setup(t)
	addNATs(f.emu, ownAccount, hangzhou, 3)
	f.emu.FailNext("DescribeNatGateways", 2, "Throttling.User", 0)
	f.emu.FailNext("GetNatGatewayAttribute", 1, "ServiceUnavailable", 0)

	gws, err := f.cl.ListNATGateways(ctx(t), hangzhou)
	if err != nil || len(gws) != 3 {
		t.Fatalf("%d gateways, %v", len(gws), err)
	}
	dc := f.emu.Calls("DescribeNatGateways")
	if len(dc) != 3 || dc[0].Code != "Throttling.User" || dc[0].HTTPStatus != 400 || dc[1].Code != "Throttling.User" || dc[2].Code != "" {
		t.Fatalf("describe calls %+v", dc)
	}
	if ga := f.emu.Calls("GetNatGatewayAttribute"); len(ga) != 4 || ga[0].HTTPStatus != 503 {
		t.Fatalf("attribute calls %+v", ga)
	}
}

func TestThrottlingGivesUpAfterMaxAttempts(t *testing.T) {
	f := setup(t)
	cl := newClient(t, cloud.Credentials{AccessKeyID: ownKey.AccessKeyID, AccessKeySecret: ownKey.AccessKeySecret}, func(c *cloud.Config) { c.MaxAttempts = 3 })
	f.emu.FailNext("*", 10, "Throttling.Api", 0)
	_, err := cl.ListALBs(ctx(t), hangzhou)
	var e *cloud.Error
	if !cloud.IsThrottling(err) || !errors.As(err, &e) || e.Attempts != 3 || e.Op != "alb ListLoadBalancers in cn-hangzhou page 1" {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.emu.Calls()); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
}

func TestContextEndsRetries(t *testing.T) {
	f := setup(t)
	cl := newClient(t, cloud.Credentials{AccessKeyID: ownKey.AccessKeyID, AccessKeySecret: ownKey.AccessKeySecret}, func(c *cloud.Config) {
		c.MaxAttempts, c.BaseBackoff, c.MaxBackoff = 100, 200*time.Millisecond, time.Second
	})
	f.emu.FailNext("*", 100, "Throttling.User", 0)
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cl.ListCLBs(c, hangzhou)
	if !errors.Is(err, context.DeadlineExceeded) || cloud.Code(err) != "Throttling.User" {
		t.Fatalf("err = %v", err)
	}
	// 100 attempts with backoff would take a minute and more: only a
	// retry loop that ignores the context gets anywhere near 20 s.
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %v with a 300ms deadline", d)
	}
}

func TestFailRegionSurfacesItsCode(t *testing.T) {
	f := setup(t)
	addNATs(f.emu, ownAccount, hangzhou, 2)
	addNATs(f.emu, ownAccount, shanghai, 2)
	f.emu.FailRegion(shanghai, "Forbidden.RAM")

	if gws, err := f.cl.ListNATGateways(ctx(t), hangzhou); err != nil || len(gws) != 2 {
		t.Fatalf("healthy region: %d %v", len(gws), err)
	}
	_, err := f.cl.ListNATGateways(ctx(t), shanghai)
	if cloud.Code(err) != "Forbidden.RAM" || cloud.HTTPStatus(err) != 403 ||
		!strings.HasPrefix(err.Error(), "vpc DescribeNatGateways in cn-shanghai page 1: Forbidden.RAM") {
		t.Fatalf("failing region: %v", err)
	}
	f.emu.FailRegion(shanghai, "")
	if gws, err := f.cl.ListNATGateways(ctx(t), shanghai); err != nil || len(gws) != 2 {
		t.Fatalf("after clearing: %d %v", len(gws), err)
	}
}

func TestUnknownActionAndFormParameters(t *testing.T) {
	f := setup(t)
	f.emu.AddNATGateway(ownAccount, hangzhou, openapiemu.NATGateway{ID: "ngw-x"})
	cl, err := vpc.NewClientWithAccessKey(hangzhou, ownKey.AccessKeyID, ownKey.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	req := requests.NewCommonRequest()
	req.Method, req.Scheme = requests.POST, "http"
	req.Product, req.Version, req.ApiName = "Vpc", "2016-04-28", "DescribeNatGatewaysPlease"
	_, err = cl.ProcessCommonRequest(req)
	if cloud.Code(err) != "InvalidAction.NotFound" || cloud.HTTPStatus(err) != 404 {
		t.Fatalf("unknown action: %v", err)
	}

	// Parameters in a signed form body count like query parameters.
	req = requests.NewCommonRequest()
	req.Method, req.Scheme = requests.POST, "http"
	req.Product, req.Version, req.ApiName = "Vpc", "2016-04-28", "DescribeNatGateways"
	req.FormParams["NatGatewayId"] = "ngw-nope"
	resp, err := cl.ProcessCommonRequest(req)
	if err != nil || !strings.Contains(resp.GetHttpContentString(), `"TotalCount":0`) {
		t.Fatalf("form filter: %v %v", resp, err)
	}

	// GET with query parameters (the CommonRequest default method).
	req = requests.NewCommonRequest()
	req.Scheme = "http"
	req.Product, req.Version, req.ApiName = "Vpc", "2016-04-28", "GetNatGatewayAttribute"
	req.QueryParams["NatGatewayId"] = "ngw-x"
	resp, err = cl.ProcessCommonRequest(req)
	if err != nil || !strings.Contains(resp.GetHttpContentString(), `"NatGatewayId":"ngw-x"`) {
		t.Fatalf("GET: %v %v", resp, err)
	}
}

func TestEndpointOverride(t *testing.T) {
	f := setup(t)
	f.emu.AddCLB(ownAccount, shanghai, openapiemu.CLB{ID: "lb-1"})
	cl := newClient(t, cloud.Credentials{AccessKeyID: ownKey.AccessKeyID, AccessKeySecret: ownKey.AccessKeySecret}, func(c *cloud.Config) {
		c.Endpoints = map[string]string{cloud.ProductSLB: "slb.{region}.example.test"}
	})
	if clbs, err := cl.ListCLBs(ctx(t), shanghai); err != nil || len(clbs) != 1 {
		t.Fatalf("%v %v", clbs, err)
	}
	for _, c := range f.emu.Calls() {
		if c.Host != "slb.cn-shanghai.example.test" {
			t.Fatalf("call went to %s", c.Host)
		}
	}
	// Without an override the SDK's own table picks the endpoint.
	f.emu.ResetCalls()
	if _, err := f.cl.ListCLBs(ctx(t), shanghai); err != nil {
		t.Fatal(err)
	}
	if h := f.emu.Calls()[0].Host; !strings.HasSuffix(h, ".aliyuncs.com") {
		t.Fatalf("default endpoint %s", h)
	}
}
