package cloud

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
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
	// Addresses are every private IP the ENI holds, the primary first
	// (filled by ListENIs).
	Addresses []string
	// Created is when the ENI was created; zero when the API did not say.
	Created time.Time
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
		var resp eniPage
		op := fmt.Sprintf("ecs DescribeNetworkInterfaces %s=%s in %s %s page %d", kind, ip, vpcID, region, page)
		err := send(c, ctx, op, region, func() *requests.CommonRequest {
			req := requests.NewCommonRequest()
			req.Product, req.ApiName = "Ecs", "DescribeNetworkInterfaces"
			setQuery(req, "VpcId", vpcID)
			if secondary {
				setQuery(req, "PrivateIpAddress.1", ip) // a repeated parameter
			} else {
				setQuery(req, "PrimaryIpAddress", ip)
			}
			setQuery(req, "MaxResults", strconv.Itoa(eniPageSize))
			setQuery(req, "NextToken", token)
			return req
		}, &resp)
		if err != nil {
			return ENI{}, false, err
		}
		for _, n := range resp.NetworkInterfaceSets.NetworkInterfaceSet {
			// Re-check the filter: an ENI is only an answer if it really
			// holds the address in that VPC.
			if string(n.VpcID) != vpcID || !eniHolds(n, ip) {
				continue
			}
			return n.eni(), true, nil
		}
		if !moreTokens(page, token, string(resp.NextToken)) {
			return ENI{}, false, nil
		}
		token = string(resp.NextToken)
	}
}

// eniPage is the part of a DescribeNetworkInterfaces answer read here.
type eniPage struct {
	NextToken            jsonStr `json:"NextToken"`
	NetworkInterfaceSets struct {
		NetworkInterfaceSet []eniJSON `json:"NetworkInterfaceSet"`
	} `json:"NetworkInterfaceSets"`
}

// ListENIs lists every ENI of a region with the private addresses it holds:
// onboarding records which instance held each address, and since when, so
// that trace names instances without calling ECS.
func (c *Client) ListENIs(ctx context.Context, region string) ([]ENI, error) {
	var out []ENI
	token := ""
	for page := 1; ; page++ {
		var resp eniPage
		op := fmt.Sprintf("ecs DescribeNetworkInterfaces in %s page %d", region, page)
		err := send(c, ctx, op, region, func() *requests.CommonRequest {
			req := requests.NewCommonRequest()
			req.Product, req.ApiName = "Ecs", "DescribeNetworkInterfaces"
			setQuery(req, "MaxResults", strconv.Itoa(eniListPageSize))
			setQuery(req, "NextToken", token)
			return req
		}, &resp)
		if err != nil {
			return nil, err
		}
		for _, n := range resp.NetworkInterfaceSets.NetworkInterfaceSet {
			out = append(out, n.eni())
		}
		if !moreTokens(page, token, string(resp.NextToken)) {
			return out, nil
		}
		token = string(resp.NextToken)
	}
}

// eniListPageSize is the API's largest page.
const eniListPageSize = 500

func (n eniJSON) eni() ENI {
	e := ENI{
		ID: string(n.NetworkInterfaceID), InstanceID: string(n.InstanceID), VPCID: string(n.VpcID),
		PrivateIP: string(n.PrivateIpAddress), Type: string(n.Type), Status: string(n.Status),
		ServiceManaged: bool(n.ServiceManaged),
	}
	if e.PrivateIP != "" {
		e.Addresses = append(e.Addresses, e.PrivateIP)
	}
	for _, s := range n.PrivateIpSets.PrivateIpSet {
		if ip := string(s.PrivateIpAddress); ip != "" && ip != e.PrivateIP {
			e.Addresses = append(e.Addresses, ip)
		}
	}
	// ECS writes times as 2006-01-02T15:04:05Z (minutes only in some APIs).
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z"} {
		if t, err := time.Parse(layout, string(n.CreationTime)); err == nil {
			e.Created = t
			break
		}
	}
	return e
}

type eniJSON struct {
	CreationTime       jsonStr  `json:"CreationTime"`
	NetworkInterfaceID jsonStr  `json:"NetworkInterfaceId"`
	InstanceID         jsonStr  `json:"InstanceId"`
	VpcID              jsonStr  `json:"VpcId"`
	PrivateIpAddress   jsonStr  `json:"PrivateIpAddress"`
	Type               jsonStr  `json:"Type"`
	Status             jsonStr  `json:"Status"`
	ServiceManaged     jsonBool `json:"ServiceManaged"`
	PrivateIpSets      struct {
		PrivateIpSet []struct {
			PrivateIpAddress jsonStr `json:"PrivateIpAddress"`
		} `json:"PrivateIpSet"`
	} `json:"PrivateIpSets"`
}

func eniHolds(n eniJSON, ip string) bool {
	if string(n.PrivateIpAddress) == ip {
		return true
	}
	for _, s := range n.PrivateIpSets.PrivateIpSet {
		if string(s.PrivateIpAddress) == ip {
			return true
		}
	}
	return false
}
