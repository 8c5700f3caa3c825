package cloud

import (
	"context"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// RoleExists reports whether the account has a RAM role called name
// (GetRole; EntityNotExist.Role is "no").
func (c *Client) RoleExists(ctx context.Context, name string) (bool, error) {
	op := fmt.Sprintf("ram GetRole %s", name)
	err := send(c, ctx, op, "", func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Ram", "GetRole"
		setQuery(req, "RoleName", name)
		return req
	}, &struct{}{})
	switch {
	case err == nil:
		return true, nil
	case Code(err) == "EntityNotExist.Role":
		return false, nil
	}
	return false, err
}

// CreateServiceLinkedRole creates the service-linked role of service (a
// service name such as logdelivery.alb.aliyuncs.com). A role that already
// exists (EntityAlreadyExists.Role: created meanwhile) is success.
func (c *Client) CreateServiceLinkedRole(ctx context.Context, service string) error {
	op := fmt.Sprintf("ram CreateServiceLinkedRole %s", service)
	err := send(c, ctx, op, "", func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Ram", "CreateServiceLinkedRole"
		setQuery(req, "ServiceName", service)
		return req
	}, &struct{}{})
	if Code(err) == "EntityAlreadyExists.Role" {
		return nil
	}
	return err
}
