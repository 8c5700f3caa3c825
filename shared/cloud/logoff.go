package cloud

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// DisableALBAccessLog stops the ALB's access-log delivery (onboard retires
// an untagged ALB with ONBOARD_DISABLE_ON_UNTAG).
// Like enabling, it completes asynchronously: ALBJob follows the JobId.
func (c *Client) DisableALBAccessLog(ctx context.Context, region, id string) (jobID string, err error) {
	token := newClientToken()
	op := fmt.Sprintf("alb DisableLoadBalancerAccessLog %s in %s", id, region)
	var resp albJobAnswer
	err = send(c, ctx, op, region, func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Alb", "DisableLoadBalancerAccessLog"
		setQuery(req, "LoadBalancerId", id)
		setQuery(req, "ClientToken", token)
		return req
	}, &resp)
	return string(resp.JobID), err
}

// DisableCLBAccessLog removes the CLB's layer-7 access-log delivery
// (DeleteAccessLogsDownloadAttribute).
func (c *Client) DisableCLBAccessLog(ctx context.Context, region, id string) error {
	attrs, err := json.Marshal([]clbLogAttribute{{LoadBalancerID: id, LogType: "layer7"}})
	if err != nil {
		return err
	}
	op := fmt.Sprintf("slb DeleteAccessLogsDownloadAttribute %s in %s", id, region)
	return send(c, ctx, op, region, func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Slb", "DeleteAccessLogsDownloadAttribute"
		setQuery(req, "LoadBalancerId", id)
		setQuery(req, "LogsDownloadAttributes", string(attrs))
		return req
	}, &struct{}{})
}
