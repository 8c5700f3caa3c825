package cloud

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
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
		var resp albPage
		op := fmt.Sprintf("alb ListLoadBalancers in %s page %d", region, page)
		err := send(c, ctx, op, region, func() *requests.CommonRequest {
			req := requests.NewCommonRequest()
			req.Product, req.ApiName = "Alb", "ListLoadBalancers"
			setQuery(req, "MaxResults", strconv.Itoa(albPageSize))
			setQuery(req, "NextToken", token)
			return req
		}, &resp)
		if err != nil {
			return nil, err
		}
		for _, lb := range resp.LoadBalancers {
			out = append(out, ALB{
				ID: string(lb.LoadBalancerID), Name: string(lb.LoadBalancerName), VPCID: string(lb.VpcID), Region: region,
				AddressType: string(lb.AddressType), Edition: string(lb.LoadBalancerEdition), Status: string(lb.LoadBalancerStatus),
				AccessLog: lb.AccessLogConfig.accessLog(),
				Tags:      albTags(lb.Tags),
			})
		}
		if !moreTokens(page, token, string(resp.NextToken)) {
			break
		}
		token = string(resp.NextToken)
	}
	for i := range out {
		if err := c.fillALBAttribute(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// albPage is the part of a ListLoadBalancers answer read here.
type albPage struct {
	NextToken     jsonStr `json:"NextToken"`
	LoadBalancers []struct {
		LoadBalancerID      jsonStr         `json:"LoadBalancerId"`
		LoadBalancerName    jsonStr         `json:"LoadBalancerName"`
		VpcID               jsonStr         `json:"VpcId"`
		AddressType         jsonStr         `json:"AddressType"`
		LoadBalancerEdition jsonStr         `json:"LoadBalancerEdition"`
		LoadBalancerStatus  jsonStr         `json:"LoadBalancerStatus"`
		AccessLogConfig     albAccessLogCfg `json:"AccessLogConfig"`
		Tags                []albTag        `json:"Tags"`
	} `json:"LoadBalancers"`
}

// albAttribute is the part of a GetLoadBalancerAttribute answer read here.
type albAttribute struct {
	ZoneMappings []struct {
		LoadBalancerAddresses []struct {
			Address         jsonStr `json:"Address"`
			IntranetAddress jsonStr `json:"IntranetAddress"`
		} `json:"LoadBalancerAddresses"`
	} `json:"ZoneMappings"`
	AccessLogConfig    albAccessLogCfg `json:"AccessLogConfig"`
	Tags               []albTag        `json:"Tags"`
	LoadBalancerStatus jsonStr         `json:"LoadBalancerStatus"`
}

type albAccessLogCfg struct {
	LogProject jsonStr `json:"LogProject"`
	LogStore   jsonStr `json:"LogStore"`
}

func (a albAccessLogCfg) accessLog() AccessLog {
	return AccessLog{Project: string(a.LogProject), Logstore: string(a.LogStore)}
}

type albTag struct {
	Key   jsonStr `json:"Key"`
	Value jsonStr `json:"Value"`
}

func (c *Client) fillALBAttribute(ctx context.Context, a *ALB) error {
	var resp albAttribute
	op := fmt.Sprintf("alb GetLoadBalancerAttribute %s in %s", a.ID, a.Region)
	err := send(c, ctx, op, a.Region, func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Alb", "GetLoadBalancerAttribute"
		setQuery(req, "LoadBalancerId", a.ID)
		return req
	}, &resp)
	if err != nil {
		return err
	}
	a.Addresses = nil
	for _, z := range resp.ZoneMappings {
		for _, ad := range z.LoadBalancerAddresses {
			a.Addresses = append(a.Addresses, LBAddress{Public: string(ad.Address), Private: string(ad.IntranetAddress)})
		}
	}
	// The attribute call is the fresher view of the log switch.
	a.AccessLog = resp.AccessLogConfig.accessLog()
	if resp.LoadBalancerStatus != "" {
		a.Status = string(resp.LoadBalancerStatus)
	}
	if len(resp.Tags) > 0 {
		a.Tags = albTags(resp.Tags)
	}
	return nil
}

// EnableALBAccessLog delivers the ALB's access log to project/logstore. The
// service applies it asynchronously: it answers with the JobId ALBJob
// follows.
func (c *Client) EnableALBAccessLog(ctx context.Context, region, id, project, logstore string) (jobID string, err error) {
	if project == "" || logstore == "" {
		return "", fmt.Errorf("cloud: enable access log on %s: project and logstore are required", id)
	}
	// One token for all attempts: a retried request whose first try did
	// land is then recognised as the same request.
	token := newClientToken()
	op := fmt.Sprintf("alb EnableLoadBalancerAccessLog %s in %s", id, region)
	var resp albJobAnswer
	err = send(c, ctx, op, region, func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Alb", "EnableLoadBalancerAccessLog"
		setQuery(req, "LoadBalancerId", id)
		setQuery(req, "LogProject", project)
		setQuery(req, "LogStore", logstore)
		setQuery(req, "ClientToken", token)
		return req
	}, &resp)
	return string(resp.JobID), err
}

// albJobAnswer is the answer of ALB's asynchronous calls.
type albJobAnswer struct {
	JobID jsonStr `json:"JobId"`
}

// ALB asynchronous job statuses (ListAsynJobs).
const (
	JobSucceeded  = "Succeeded"
	JobFailed     = "Failed"
	JobProcessing = "Processing"
)

// Job is an ALB asynchronous job as ListAsynJobs reports it.
type Job struct {
	ID, Status              string
	ErrorCode, ErrorMessage string
}

// ALBJob reports an ALB job's status; ok is false when ListAsynJobs does
// not list it (yet, or any more).
func (c *Client) ALBJob(ctx context.Context, region, jobID string) (job Job, ok bool, err error) {
	var resp struct {
		Jobs []struct {
			ID           jsonStr `json:"Id"`
			Status       jsonStr `json:"Status"`
			ErrorCode    jsonStr `json:"ErrorCode"`
			ErrorMessage jsonStr `json:"ErrorMessage"`
		} `json:"Jobs"`
	}
	op := fmt.Sprintf("alb ListAsynJobs %s in %s", jobID, region)
	err = send(c, ctx, op, region, func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Alb", "ListAsynJobs"
		setQuery(req, "JobIds.1", jobID)
		return req
	}, &resp)
	if err != nil {
		return Job{}, false, err
	}
	for _, j := range resp.Jobs {
		if string(j.ID) == jobID {
			return Job{ID: jobID, Status: string(j.Status), ErrorCode: string(j.ErrorCode), ErrorMessage: string(j.ErrorMessage)}, true, nil
		}
	}
	return Job{}, false, nil
}

// ALBAccessLog reads where one ALB's access log goes, and its status.
func (c *Client) ALBAccessLog(ctx context.Context, region, id string) (AccessLog, string, error) {
	a := ALB{ID: id, Region: region}
	err := c.fillALBAttribute(ctx, &a)
	return a.AccessLog, a.Status, err
}

func albTags(ts []albTag) map[string]string {
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		if t.Key != "" {
			m[string(t.Key)] = string(t.Value)
		}
	}
	return m
}
