package cloud

import (
	"context"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alb"
)

// ALB is an Application Load Balancer with its addresses.
type ALB struct {
	ID, Name, VPCID, Region string
	AddressType             string // "Internet" or "Intranet"
	Edition                 string // Basic, Standard, StandardWithWaf
	Status                  string
	Addresses               []LBAddress
	AccessLog               AccessLog
	Tags                    map[string]string
}

// LBAddress is one address of a load balancer: the public one a client hits
// (empty for an intranet ALB) and the private one in the VPC.
type LBAddress struct {
	Public  string
	Private string
}

// AccessLog is where a load balancer's layer-7 access log goes; empty when off.
type AccessLog struct {
	Project, Logstore string
}

// Enabled reports whether access logs are delivered anywhere.
func (a AccessLog) Enabled() bool { return a.Project != "" && a.Logstore != "" }

const albPageSize = 100

// ListALBs returns every ALB of the region, with its zone addresses from
// GetLoadBalancerAttribute (ListLoadBalancers carries none).
func (c *Client) ListALBs(ctx context.Context, region string) ([]ALB, error) {
	var out []ALB
	token := ""
	for page := 1; ; page++ {
		var resp *alb.ListLoadBalancersResponse
		op := fmt.Sprintf("alb ListLoadBalancers in %s page %d", region, page)
		err := c.call(ctx, op, func(ctx context.Context) error {
			cl, err := c.albClient(ctx, region)
			if err != nil {
				return err
			}
			req := alb.CreateListLoadBalancersRequest()
			c.target(req, ProductALB, region)
			req.MaxResults = requests.NewInteger(albPageSize)
			req.NextToken = token
			resp, err = cl.ListLoadBalancers(req)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, lb := range resp.LoadBalancers {
			out = append(out, ALB{
				ID: lb.LoadBalancerId, Name: lb.LoadBalancerName, VPCID: lb.VpcId, Region: region,
				AddressType: lb.AddressType, Edition: lb.LoadBalancerEdition, Status: lb.LoadBalancerStatus,
				AccessLog: AccessLog{Project: lb.AccessLogConfig.LogProject, Logstore: lb.AccessLogConfig.LogStore},
				Tags:      albTags(lb.Tags),
			})
		}
		if !moreTokens(page, token, resp.NextToken) {
			break
		}
		token = resp.NextToken
	}
	for i := range out {
		if err := c.fillALBAttribute(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *Client) fillALBAttribute(ctx context.Context, a *ALB) error {
	var resp *alb.GetLoadBalancerAttributeResponse
	op := fmt.Sprintf("alb GetLoadBalancerAttribute %s in %s", a.ID, a.Region)
	err := c.call(ctx, op, func(ctx context.Context) error {
		cl, err := c.albClient(ctx, a.Region)
		if err != nil {
			return err
		}
		req := alb.CreateGetLoadBalancerAttributeRequest()
		c.target(req, ProductALB, a.Region)
		req.LoadBalancerId = a.ID
		resp, err = cl.GetLoadBalancerAttribute(req)
		return err
	})
	if err != nil {
		return err
	}
	a.Addresses = nil
	for _, z := range resp.ZoneMappings {
		for _, ad := range z.LoadBalancerAddresses {
			a.Addresses = append(a.Addresses, LBAddress{Public: ad.Address, Private: ad.IntranetAddress})
		}
	}
	// The attribute call is the fresher view of the log switch.
	a.AccessLog = AccessLog{Project: resp.AccessLogConfig.LogProject, Logstore: resp.AccessLogConfig.LogStore}
	if len(resp.Tags) > 0 {
		a.Tags = albTags(resp.Tags)
	}
	return nil
}

// EnableALBAccessLog delivers the ALB's access log to project/logstore. The
// service applies it asynchronously (it answers with a JobId).
func (c *Client) EnableALBAccessLog(ctx context.Context, region, id, project, logstore string) error {
	if project == "" || logstore == "" {
		return fmt.Errorf("cloud: enable access log on %s: project and logstore are required", id)
	}
	// One token for all attempts: a retried request whose first try did
	// land is then recognised as the same request.
	token := newClientToken()
	op := fmt.Sprintf("alb EnableLoadBalancerAccessLog %s in %s", id, region)
	return c.call(ctx, op, func(ctx context.Context) error {
		cl, err := c.albClient(ctx, region)
		if err != nil {
			return err
		}
		req := alb.CreateEnableLoadBalancerAccessLogRequest()
		c.target(req, ProductALB, region)
		req.LoadBalancerId = id
		req.LogProject = project
		req.LogStore = logstore
		req.ClientToken = token
		_, err = cl.EnableLoadBalancerAccessLog(req)
		return err
	})
}

func albTags(ts []alb.Tag) map[string]string {
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		if t.Key != "" {
			m[t.Key] = t.Value
		}
	}
	return m
}
