package cloud

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
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
	var resp assumeRoleAnswer
	op := fmt.Sprintf("sts AssumeRole %s", roleARN)
	err := send(c, ctx, op, "", func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Sts", "AssumeRole"
		setQuery(req, "RoleArn", roleARN)
		setQuery(req, "RoleSessionName", sessionName)
		setQuery(req, "DurationSeconds", strconv.Itoa(secs))
		return req
	}, &resp)
	if err != nil {
		return Credentials{}, err
	}
	cr := Credentials{
		AccessKeyID:     string(resp.Credentials.AccessKeyID),
		AccessKeySecret: string(resp.Credentials.AccessKeySecret),
		SecurityToken:   string(resp.Credentials.SecurityToken),
	}
	if t, err := time.Parse(time.RFC3339, string(resp.Credentials.Expiration)); err == nil {
		cr.Expiration = t
	}
	if !cr.Valid() || cr.SecurityToken == "" {
		return Credentials{}, &Error{Op: op, Err: fmt.Errorf("incomplete credentials in the answer (RequestId %s)", resp.RequestID)}
	}
	return cr, nil
}

// assumeRoleAnswer is the part of an AssumeRole answer read here.
type assumeRoleAnswer struct {
	RequestID   jsonStr `json:"RequestId"`
	Credentials struct {
		AccessKeyID     jsonStr `json:"AccessKeyId"`
		AccessKeySecret jsonStr `json:"AccessKeySecret"`
		SecurityToken   jsonStr `json:"SecurityToken"`
		Expiration      jsonStr `json:"Expiration"`
	} `json:"Credentials"`
}
