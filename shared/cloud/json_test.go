package cloud

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestLenientJSON(t *testing.T) {
	var v struct {
		S1, S2, S3, S4 jsonStr
		B1, B2, B3, B4 jsonBool
		I1, I2, I3, I4 jsonInt
	}
	in := `{"S1":"x","S2":12.50,"S3":true,"S4":null,
		"B1":true,"B2":"True","B3":1,"B4":"",
		"I1":7,"I2":"42","I3":"","I4":3.9}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.S1 != "x" || v.S2 != "12.50" || v.S3 != "true" || v.S4 != "" ||
		!bool(v.B1) || !bool(v.B2) || !bool(v.B3) || bool(v.B4) ||
		v.I1 != 7 || v.I2 != 42 || v.I3 != 0 || v.I4 != 3 {
		t.Fatalf("%+v", v)
	}
	for _, bad := range []string{`{"S1":{}}`, `{"B1":"yes"}`, `{"I1":"x"}`, `{"I1":[]}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

type fakeAPI func(action string, q map[string]string) string

func (f fakeAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	q := map[string]string{}
	for k, v := range r.URL.Query() {
		q[k] = v[0]
	}
	body := f(q["Action"], q)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// TestNATGatewaysDecode feeds the answers' loose types (EnableSessionLog a
// string in one API and a bool in the other, a quoted TotalCount).
func TestNATGatewaysDecode(t *testing.T) {
	var hosts []string
	api := fakeAPI(func(action string, q map[string]string) string {
		switch action {
		case "DescribeNatGateways":
			if q["PageNumber"] != "1" || q["PageSize"] != "50" || q["RegionId"] != "cn-shanghai" || q["Version"] != "2016-04-28" {
				t.Errorf("DescribeNatGateways query %v", q)
			}
			return `{"TotalCount":"1","NatGateways":{"NatGateway":[{"NatGatewayId":"ngw-1","VpcId":"vpc-1",
				"EnableSessionLog":"false","InternetChargeType":"PayByLcu","IpLists":{"IpList":[{"IpAddress":"1.2.3.4",
				"PrivateIpAddress":"10.0.0.5","AllocationId":"eip-1"}]},"Tags":{"Tag":[{"TagKey":"env","TagValue":"prod"}]}}]}}`
		case "GetNatGatewayAttribute":
			if q["NatGatewayId"] != "ngw-1" {
				t.Errorf("GetNatGatewayAttribute query %v", q)
			}
			return `{"EnableSessionLog":"true","LogDelivery":{"LogDestination":"acs:log:cn-shanghai:1:project/p/logstore/l"},
				"BillingConfig":{"Spec":"","InstanceChargeType":"PostPaid"}}`
		}
		t.Errorf("unexpected %s", action)
		return `{}`
	})
	rec := http.RoundTripper(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		hosts = append(hosts, r.URL.Scheme+"://"+r.URL.Host)
		return api.RoundTrip(r)
	}))
	c, err := New(Credentials{AccessKeyID: "a", AccessKeySecret: "b"}, Config{Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	gws, err := c.ListNATGateways(context.Background(), "cn-shanghai")
	if err != nil {
		t.Fatal(err)
	}
	if len(gws) != 1 {
		t.Fatalf("%+v", gws)
	}
	g := gws[0]
	if g.ID != "ngw-1" || g.VPCID != "vpc-1" || !g.SessionLogEnabled || g.LogDestination == "" ||
		g.InstanceChargeType != "PostPaid" || len(g.IPs) != 1 || g.IPs[0].PrivateIP != "10.0.0.5" || g.Tags["env"] != "prod" {
		t.Fatalf("%+v", g)
	}
	for _, h := range hosts {
		if h != "https://vpc.cn-shanghai.aliyuncs.com" {
			t.Errorf("host %s", h)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
