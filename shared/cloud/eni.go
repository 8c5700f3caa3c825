package cloud

import (
	"context"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// ENI is an elastic network interface holding a private IP.
type ENI struct {
	ID         string
	InstanceID string // the ECS instance; empty when detached or owned by a cloud service
	VPCID      string
	PrivateIP  string // the ENI's primary private IP
	Type       string // "Primary" or "Secondary"
	Status     string
	// ServiceManaged ENIs belong to cloud services (NAT, ALB, ...), not ECS.
	ServiceManaged bool
}

const eniPageSize = 100

// FindENI finds the ENI holding privateIP in vpcID: first as an ENI's
// primary address, then as a secondary one.
func (c *Client) FindENI(ctx context.Context, region, vpcID, privateIP string) (ENI, bool, error) {
	for _, secondary := range []bool{false, true} {
		eni, ok, err := c.findENI(ctx, region, vpcID, privateIP, secondary)
		if err != nil || ok {
			return eni, ok, err
		}
	}
	return ENI{}, false, nil
}

func (c *Client) findENI(ctx context.Context, region, vpcID, ip string, secondary bool) (ENI, bool, error) {
	kind := "PrimaryIpAddress"
	if secondary {
		kind = "PrivateIpAddress"
	}
	token := ""
	for page := 1; ; page++ {
		var resp *ecs.DescribeNetworkInterfacesResponse
		op := fmt.Sprintf("ecs DescribeNetworkInterfaces %s=%s in %s %s page %d", kind, ip, vpcID, region, page)
		err := c.call(ctx, op, func(ctx context.Context) error {
			cl, err := c.ecsClient(ctx, region)
			if err != nil {
				return err
			}
			req := ecs.CreateDescribeNetworkInterfacesRequest()
			c.target(req, ProductECS, region)
			req.VpcId = vpcID
			if secondary {
				req.PrivateIpAddress = &[]string{ip}
			} else {
				req.PrimaryIpAddress = ip
			}
			req.MaxResults = requests.NewInteger(eniPageSize)
			req.NextToken = token
			resp, err = cl.DescribeNetworkInterfaces(req)
			return err
		})
		if err != nil {
			return ENI{}, false, err
		}
		for _, n := range resp.NetworkInterfaceSets.NetworkInterfaceSet {
			// Re-check the filter: an ENI is only an answer if it really
			// holds the address in that VPC.
			if n.VpcId != vpcID || !eniHolds(n, ip) {
				continue
			}
			return ENI{
				ID: n.NetworkInterfaceId, InstanceID: n.InstanceId, VPCID: n.VpcId, PrivateIP: n.PrivateIpAddress,
				Type: n.Type, Status: n.Status, ServiceManaged: n.ServiceManaged,
			}, true, nil
		}
		if !moreTokens(page, token, resp.NextToken) {
			return ENI{}, false, nil
		}
		token = resp.NextToken
	}
}

func eniHolds(n ecs.NetworkInterfaceSet, ip string) bool {
	if n.PrivateIpAddress == ip {
		return true
	}
	for _, s := range n.PrivateIpSets.PrivateIpSet {
		if s.PrivateIpAddress == ip {
			return true
		}
	}
	return false
}
