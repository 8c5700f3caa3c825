package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
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
	// DeliveryStatus is as reported: the API reference spells the values
	// "Succsess" [sic] and "Failure" (DeliveryFailed tests for the latter).
	DeliveryStatus string
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
		var resp natGatewaysPage
		op := fmt.Sprintf("vpc DescribeNatGateways in %s page %d", region, page)
		err := send(c, ctx, op, region, func() *requests.CommonRequest {
			req := requests.NewCommonRequest()
			req.Product, req.ApiName = "Vpc", "DescribeNatGateways"
			setQuery(req, "PageNumber", strconv.Itoa(page))
			setQuery(req, "PageSize", strconv.Itoa(natPageSize))
			return req
		}, &resp)
		if err != nil {
			return nil, err
		}
		gws := resp.NatGateways.NatGateway
		for _, g := range gws {
			out = append(out, natFromDescribe(region, g))
		}
		if !morePages(page, len(gws), len(out), natPageSize, int(resp.TotalCount)) {
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

// natGatewaysPage is the part of a DescribeNatGateways answer read here.
type natGatewaysPage struct {
	TotalCount  jsonInt `json:"TotalCount"`
	NatGateways struct {
		NatGateway []natGatewayJSON `json:"NatGateway"`
	} `json:"NatGateways"`
}

type natGatewayJSON struct {
	NatGatewayID       jsonStr `json:"NatGatewayId"`
	Name               jsonStr `json:"Name"`
	VpcID              jsonStr `json:"VpcId"`
	RegionID           jsonStr `json:"RegionId"`
	Status             jsonStr `json:"Status"`
	NetworkType        jsonStr `json:"NetworkType"`
	NatType            jsonStr `json:"NatType"`
	Spec               jsonStr `json:"Spec"`
	InstanceChargeType jsonStr `json:"InstanceChargeType"`
	InternetChargeType jsonStr `json:"InternetChargeType"`
	EipBindMode        jsonStr `json:"EipBindMode"`
	EnableSessionLog   jsonStr `json:"EnableSessionLog"` // a string here, unlike in GetNatGatewayAttribute
	IpLists            struct {
		IpList []struct {
			IpAddress        jsonStr `json:"IpAddress"`
			PrivateIpAddress jsonStr `json:"PrivateIpAddress"`
			AllocationID     jsonStr `json:"AllocationId"`
		} `json:"IpList"`
	} `json:"IpLists"`
	Tags struct {
		Tag []struct {
			Key      jsonStr `json:"Key"`
			Value    jsonStr `json:"Value"`
			TagKey   jsonStr `json:"TagKey"`
			TagValue jsonStr `json:"TagValue"`
		} `json:"Tag"`
	} `json:"Tags"`
}

func natFromDescribe(region string, g natGatewayJSON) NATGateway {
	n := NATGateway{
		ID: string(g.NatGatewayID), Name: string(g.Name), VPCID: string(g.VpcID), Region: region, Status: string(g.Status),
		NetworkType: string(g.NetworkType), NatType: string(g.NatType), Spec: string(g.Spec),
		InstanceChargeType: string(g.InstanceChargeType), InternetChargeType: string(g.InternetChargeType),
		EipBindMode:       string(g.EipBindMode),
		SessionLogEnabled: strings.EqualFold(string(g.EnableSessionLog), "true"),
		Tags:              map[string]string{},
	}
	if g.RegionID != "" {
		n.Region = string(g.RegionID)
	}
	for _, ip := range g.IpLists.IpList {
		n.IPs = append(n.IPs, NATIP{EIP: string(ip.IpAddress), PrivateIP: string(ip.PrivateIpAddress), AllocationID: string(ip.AllocationID)})
	}
	for _, t := range g.Tags.Tag {
		k, v := firstNonEmpty(string(t.Key), string(t.TagKey)), firstNonEmpty(string(t.Value), string(t.TagValue))
		if k != "" {
			n.Tags[k] = v
		}
	}
	return n
}

// natAttribute is the part of a GetNatGatewayAttribute answer read here.
type natAttribute struct {
	Status           jsonStr  `json:"Status"`
	EnableSessionLog jsonBool `json:"EnableSessionLog"`
	LogDelivery      struct {
		LogDestination jsonStr `json:"LogDestination"`
		DeliveryStatus jsonStr `json:"DeliveryStatus"`
	} `json:"LogDelivery"`
	BillingConfig struct {
		InternetChargeType jsonStr `json:"InternetChargeType"`
		InstanceChargeType jsonStr `json:"InstanceChargeType"`
		Spec               jsonStr `json:"Spec"`
	} `json:"BillingConfig"`
}

func (c *Client) fillNATAttribute(ctx context.Context, g *NATGateway) error {
	var resp natAttribute
	op := fmt.Sprintf("vpc GetNatGatewayAttribute %s in %s", g.ID, g.Region)
	err := send(c, ctx, op, g.Region, func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Vpc", "GetNatGatewayAttribute"
		setQuery(req, "NatGatewayId", g.ID)
		return req
	}, &resp)
	if err != nil {
		return err
	}
	if resp.Status != "" {
		g.Status = string(resp.Status)
	}
	g.SessionLogEnabled = bool(resp.EnableSessionLog)
	g.LogDestination = string(resp.LogDelivery.LogDestination)
	g.DeliveryStatus = string(resp.LogDelivery.DeliveryStatus)
	if b := resp.BillingConfig; b.InternetChargeType != "" {
		g.InternetChargeType = string(b.InternetChargeType)
	}
	if b := resp.BillingConfig; b.InstanceChargeType != "" {
		g.InstanceChargeType = string(b.InstanceChargeType)
	}
	if b := resp.BillingConfig; b.Spec != "" {
		g.Spec = string(b.Spec)
	}
	return nil
}

// NATStatusModifying is a NAT gateway's Status while a change (of its
// session-log delivery, among others) is being applied.
const NATStatusModifying = "Modifying"

// DeliveryFailed reports a session-log delivery the service says fails
// ("Failure"; "Failed" in some documentation).
func (g NATGateway) DeliveryFailed() bool {
	return strings.HasPrefix(strings.ToLower(g.DeliveryStatus), "fail")
}

// NATGatewayState reads one NAT gateway's status and session-log state
// (GetNatGatewayAttribute).
func (c *Client) NATGatewayState(ctx context.Context, region, id string) (NATGateway, error) {
	g := NATGateway{ID: id, Region: region}
	err := c.fillNATAttribute(ctx, &g)
	return g, err
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
	return send(c, ctx, op, region, func() *requests.CommonRequest {
		req := requests.NewCommonRequest()
		req.Product, req.ApiName = "Vpc", "ModifyNatGatewayAttribute"
		req.QueryParams["RegionId"] = region
		req.QueryParams["NatGatewayId"] = ngwID
		for k, v := range params {
			req.QueryParams[k] = v
		}
		return req
	}, &struct{}{})
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
