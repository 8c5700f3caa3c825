package cloud

import (
	"context"
	"fmt"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
)

// AssumeRole returns temporary credentials for roleARN
// (acs:ram::<uid>:role/<name>), typically a member account's role trusted by
// this account. dur is clamped to STS's 15 min .. 1 h default range; 0 means
// 1 h.
func (c *Client) AssumeRole(ctx context.Context, roleARN, sessionName string, dur time.Duration) (Credentials, error) {
	secs := int(dur / time.Second)
	switch {
	case secs == 0:
		secs = 3600
	case secs < 900:
		secs = 900
	case secs > 3600:
		secs = 3600
	}
	var resp *sts.AssumeRoleResponse
	op := fmt.Sprintf("sts AssumeRole %s", roleARN)
	err := c.call(ctx, op, func(ctx context.Context) error {
		cl, err := c.stsClient(ctx)
		if err != nil {
			return err
		}
		req := sts.CreateAssumeRoleRequest()
		c.target(req, ProductSTS, "")
		req.RoleArn = roleARN
		req.RoleSessionName = sessionName
		req.DurationSeconds = requests.NewInteger(secs)
		resp, err = cl.AssumeRole(req)
		return err
	})
	if err != nil {
		return Credentials{}, err
	}
	cr := Credentials{
		AccessKeyID:     resp.Credentials.AccessKeyId,
		AccessKeySecret: resp.Credentials.AccessKeySecret,
		SecurityToken:   resp.Credentials.SecurityToken,
	}
	if t, err := time.Parse(time.RFC3339, resp.Credentials.Expiration); err == nil {
		cr.Expiration = t
	}
	if !cr.Valid() || cr.SecurityToken == "" {
		return Credentials{}, &Error{Op: op, Err: fmt.Errorf("incomplete credentials in the answer (RequestId %s)", resp.RequestId)}
	}
	return cr, nil
}
