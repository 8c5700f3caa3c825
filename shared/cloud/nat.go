package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

// NATGateway is a NAT gateway as DescribeNatGateways and
// GetNatGatewayAttribute report it.
type NATGateway struct {
	ID, Name, VPCID, Region string
	Status                  string
	NetworkType             string // "internet" or "intranet" (VPC NAT)
	NatType                 string // "Enhanced" (current) or "Normal"
	Spec                    string // Small, Middle, Large, XLarge.1 (pay-by-specification only)
	InstanceChargeType      string // "PostPaid" or "PrePaid"
	InternetChargeType      string // "PayByLcu" or "PayBySpec"
	// EipBindMode decides what session logs put in nat_ip: "NAT" logs the
	// EIP's private address (translate with IPs), "MULTI_BINDED" the EIP.
	EipBindMode       string
	SessionLogEnabled bool
	// LogDestination is the SLS target of session logs:
	// acs:log:<region>:<uid>:project/<p>/logstore/<ls> (see ParseSLSDestination).
	LogDestination string
	DeliveryStatus string // Success, Modifying, Failed ... as reported
	IPs            []NATIP
	Tags           map[string]string
}

// NATIP is one EIP of a NAT gateway.
type NATIP struct {
	EIP          string // IpAddress
	PrivateIP    string // PrivateIpAddress: what nat_ip holds in NAT mode
	AllocationID string
}

// PayBySpec reports a pay-by-specification gateway, on which session logs
// are not available.
func (g NATGateway) PayBySpec() bool { return strings.EqualFold(g.InternetChargeType, "PayBySpec") }

// SessionLogSupported reports whether session logs can be switched on.
func (g NATGateway) SessionLogSupported() bool { return !g.PayBySpec() }

const natPageSize = 50

// ListNATGateways returns every NAT gateway of the region, with its session
// log state from GetNatGatewayAttribute (DescribeNatGateways reports the
// switch as an untyped string and not the destination).
func (c *Client) ListNATGateways(ctx context.Context, region string) ([]NATGateway, error) {
	var out []NATGateway
	for page := 1; ; page++ {
		var resp *vpc.DescribeNatGatewaysResponse
		op := fmt.Sprintf("vpc DescribeNatGateways in %s page %d", region, page)
		err := c.call(ctx, op, func(ctx context.Context) error {
			cl, err := c.vpcClient(ctx, region)
			if err != nil {
				return err
			}
			req := vpc.CreateDescribeNatGatewaysRequest()
			c.target(req, ProductVPC, region)
			req.PageNumber = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(natPageSize)
			resp, err = cl.DescribeNatGateways(req)
			return err
		})
		if err != nil {
			return nil, err
		}
		gws := resp.NatGateways.NatGateway
		for _, g := range gws {
			out = append(out, natFromDescribe(region, g))
		}
		if !morePages(page, len(gws), len(out), natPageSize, resp.TotalCount) {
			break
		}
	}
	for i := range out {
		if err := c.fillNATAttribute(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func natFromDescribe(region string, g vpc.NatGateway) NATGateway {
	n := NATGateway{
		ID: g.NatGatewayId, Name: g.Name, VPCID: g.VpcId, Region: region, Status: g.Status,
		NetworkType: g.NetworkType, NatType: g.NatType, Spec: g.Spec,
		InstanceChargeType: g.InstanceChargeType, InternetChargeType: g.InternetChargeType,
		EipBindMode:       g.EipBindMode,
		SessionLogEnabled: strings.EqualFold(g.EnableSessionLog, "true"),
		Tags:              map[string]string{},
	}
	if g.RegionId != "" {
		n.Region = g.RegionId
	}
	for _, ip := range g.IpLists.IpList {
		n.IPs = append(n.IPs, NATIP{EIP: ip.IpAddress, PrivateIP: ip.PrivateIpAddress, AllocationID: ip.AllocationId})
	}
	for _, t := range g.Tags.Tag {
		k, v := firstNonEmpty(t.Key, t.TagKey), firstNonEmpty(t.Value, t.TagValue)
		if k != "" {
			n.Tags[k] = v
		}
	}
	return n
}

func (c *Client) fillNATAttribute(ctx context.Context, g *NATGateway) error {
	var resp *vpc.GetNatGatewayAttributeResponse
	op := fmt.Sprintf("vpc GetNatGatewayAttribute %s in %s", g.ID, g.Region)
	err := c.call(ctx, op, func(ctx context.Context) error {
		cl, err := c.vpcClient(ctx, g.Region)
		if err != nil {
			return err
		}
		req := vpc.CreateGetNatGatewayAttributeRequest()
		c.target(req, ProductVPC, g.Region)
		req.NatGatewayId = g.ID
		resp, err = cl.GetNatGatewayAttribute(req)
		return err
	})
	if err != nil {
		return err
	}
	g.SessionLogEnabled = resp.EnableSessionLog
	g.LogDestination = resp.LogDelivery.LogDestination
	g.DeliveryStatus = resp.LogDelivery.DeliveryStatus
	if b := resp.BillingConfig; b.InternetChargeType != "" {
		g.InternetChargeType = b.InternetChargeType
	}
	if b := resp.BillingConfig; b.InstanceChargeType != "" {
		g.InstanceChargeType = b.InstanceChargeType
	}
	if b := resp.BillingConfig; b.Spec != "" {
		g.Spec = b.Spec
	}
	return nil
}

// EnableNATSessionLog switches session logs on towards logDestination
// (acs:log:<region>:<uid>:project/<p>/logstore/<ls>, see SLSDestination).
//
// LogDelivery goes out as one JSON string parameter, as the official v2 SDK
// sends it; the v1 typed request would flatten it into LogDelivery.* keys,
// a form the service is not known to accept.
func (c *Client) EnableNATSessionLog(ctx context.Context, region, ngwID, logDestination string) error {
	if _, ok := ParseSLSDestination(logDestination); !ok {
		return fmt.Errorf("cloud: enable session log on %s: bad log destination %q", ngwID, logDestination)
	}
	delivery, err := json.Marshal(struct {
		LogDeliveryType string `json:"LogDeliveryType"`
		LogDestination  string `json:"LogDestination"`
	}{"sls", logDestination})
	if err != nil {
		return err
	}
	return c.modifyNAT(ctx, region, ngwID, "enable session log", map[string]string{
		"EnableSessionLog": "true",
		"LogDelivery":      string(delivery),
	})
}

// DisableNATSessionLog switches session logs off.
func (c *Client) DisableNATSessionLog(ctx context.Context, region, ngwID string) error {
	return c.modifyNAT(ctx, region, ngwID, "disable session log", map[string]string{
		"EnableSessionLog": "false",
	})
}

func (c *Client) modifyNAT(ctx context.Context, region, ngwID, what string, params map[string]string) error {
	op := fmt.Sprintf("vpc ModifyNatGatewayAttribute (%s) %s in %s", what, ngwID, region)
	return c.call(ctx, op, func(ctx context.Context) error {
		cl, err := c.vpcClient(ctx, region)
		if err != nil {
			return err
		}
		req := requests.NewCommonRequest()
		req.Method = requests.POST
		req.Product, req.Version, req.ApiName = "Vpc", "2016-04-28", "ModifyNatGatewayAttribute"
		req.ServiceCode, req.EndpointType = "vpc", "openAPI"
		c.target(req, ProductVPC, region)
		req.QueryParams["RegionId"] = region
		req.QueryParams["NatGatewayId"] = ngwID
		for k, v := range params {
			req.QueryParams[k] = v
		}
		_, err = cl.ProcessCommonRequest(req)
		return err
	})
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
