package cloud

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
)

// CLB is a Classic Load Balancer.
type CLB struct {
	ID, Name, VPCID, Region string
	Address                 string // the VIP clients hit
	AddressType             string // "internet" or "intranet"
	NetworkType             string // "vpc" or "classic"
	Status                  string
	AccessLog               AccessLog // layer-7 access log
	Tags                    map[string]string
}

const (
	clbPageSize    = 100
	clbLogPageSize = 50 // the documented maximum
)

// ListCLBs returns every CLB of the region, with its layer-7 access-log
// configuration from DescribeAccessLogsDownloadAttribute.
func (c *Client) ListCLBs(ctx context.Context, region string) ([]CLB, error) {
	var out []CLB
	for page := 1; ; page++ {
		var resp *slb.DescribeLoadBalancersResponse
		op := fmt.Sprintf("slb DescribeLoadBalancers in %s page %d", region, page)
		err := c.call(ctx, op, func(ctx context.Context) error {
			cl, err := c.slbClient(ctx, region)
			if err != nil {
				return err
			}
			req := slb.CreateDescribeLoadBalancersRequest()
			c.target(req, ProductSLB, region)
			req.PageNumber = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(clbPageSize)
			resp, err = cl.DescribeLoadBalancers(req)
			return err
		})
		if err != nil {
			return nil, err
		}
		lbs := resp.LoadBalancers.LoadBalancer
		for _, lb := range lbs {
			tags := make(map[string]string, len(lb.Tags.Tag))
			for _, t := range lb.Tags.Tag {
				if t.TagKey != "" {
					tags[t.TagKey] = t.TagValue
				}
			}
			out = append(out, CLB{
				ID: lb.LoadBalancerId, Name: lb.LoadBalancerName, VPCID: lb.VpcId, Region: region,
				Address: lb.Address, AddressType: lb.AddressType, NetworkType: lb.NetworkType,
				Status: lb.LoadBalancerStatus, Tags: tags,
			})
		}
		if !morePages(page, len(lbs), len(out), clbPageSize, resp.TotalCount) {
			break
		}
	}
	for i := range out {
		al, err := c.clbAccessLog(ctx, region, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].AccessLog = al
	}
	return out, nil
}

func (c *Client) clbAccessLog(ctx context.Context, region, id string) (AccessLog, error) {
	seen := 0
	for page := 1; ; page++ {
		var resp *slb.DescribeAccessLogsDownloadAttributeResponse
		op := fmt.Sprintf("slb DescribeAccessLogsDownloadAttribute %s in %s page %d", id, region, page)
		err := c.call(ctx, op, func(ctx context.Context) error {
			cl, err := c.slbClient(ctx, region)
			if err != nil {
				return err
			}
			req := slb.CreateDescribeAccessLogsDownloadAttributeRequest()
			c.target(req, ProductSLB, region)
			req.LoadBalancerId = id
			req.LogType = "layer7"
			req.PageNumber = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(clbLogPageSize)
			resp, err = cl.DescribeAccessLogsDownloadAttribute(req)
			return err
		})
		if err != nil {
			return AccessLog{}, err
		}
		attrs := resp.LogsDownloadAttributes.LogsDownloadAttribute
		for _, a := range attrs {
			if a.LoadBalancerId == id && (a.LogType == "" || a.LogType == "layer7") && a.LogProject != "" {
				return AccessLog{Project: a.LogProject, Logstore: a.LogStore}, nil
			}
		}
		seen += len(attrs)
		if !morePages(page, len(attrs), seen, clbLogPageSize, resp.TotalCount) {
			return AccessLog{}, nil
		}
	}
}

// clbLogAttribute is one element of LogsDownloadAttributes. The public docs
// show inconsistent key case; these are the documented field names.
type clbLogAttribute struct {
	LoadBalancerID string `json:"LoadBalancerId"`
	LogProject     string `json:"LogProject"`
	LogStore       string `json:"LogStore"`
	LogType        string `json:"LogType"`
}

// EnableCLBAccessLog delivers the CLB's layer-7 access log to
// project/logstore (SetAccessLogsDownloadAttribute; the call also creates the
// service-linked role AliyunServiceRoleForSlbLogDelivery when missing).
func (c *Client) EnableCLBAccessLog(ctx context.Context, region, id, project, logstore string) error {
	if project == "" || logstore == "" {
		return fmt.Errorf("cloud: enable access log on %s: project and logstore are required", id)
	}
	attrs, err := json.Marshal([]clbLogAttribute{{LoadBalancerID: id, LogProject: project, LogStore: logstore, LogType: "layer7"}})
	if err != nil {
		return err
	}
	op := fmt.Sprintf("slb SetAccessLogsDownloadAttribute %s in %s", id, region)
	return c.call(ctx, op, func(ctx context.Context) error {
		cl, err := c.slbClient(ctx, region)
		if err != nil {
			return err
		}
		req := slb.CreateSetAccessLogsDownloadAttributeRequest()
		c.target(req, ProductSLB, region)
		req.LoadBalancerId = id
		req.LogsDownloadAttributes = string(attrs)
		_, err = cl.SetAccessLogsDownloadAttribute(req)
		return err
	})
}
