package openapiemu

import (
	"encoding/json"
	"strings"
)

func natDefaults(g NATGateway) NATGateway {
	g.NetworkType = orDefault(g.NetworkType, "internet")
	g.NatType = orDefault(g.NatType, "Enhanced")
	g.InstanceChargeType = orDefault(g.InstanceChargeType, "PostPaid")
	g.InternetChargeType = orDefault(g.InternetChargeType, "PayByLcu")
	g.EipBindMode = orDefault(g.EipBindMode, "MULTI_BINDED")
	g.Status = orDefault(g.Status, "Available")
	return g
}

func (s *Server) describeNatGateways(c *call) (map[string]any, *apiError) {
	num, e := c.p.intIn("PageNumber", 1, 1, 1<<30)
	if e != nil {
		return nil, e
	}
	size, e := c.p.intIn("PageSize", 10, 1, 50)
	if e != nil {
		return nil, e
	}
	ids := c.p.list("NatGatewayIds")
	if id := c.p["NatGatewayId"]; id != "" {
		ids = append(ids, id)
	}
	all := sortedByID(s.nats, c.account, c.region, func(g *NATGateway) bool {
		return (len(ids) == 0 || contains(ids, g.ID)) &&
			(c.p["VpcId"] == "" || c.p["VpcId"] == g.VPCID) &&
			(c.p["Name"] == "" || c.p["Name"] == g.Name)
	})
	items := []any{}
	for _, g := range page(all, num, size) {
		d := natDefaults(*g)
		if s.inFlight(resKey{c.account, c.region, g.ID}) {
			d.Status = "Modifying"
		}
		ips := []any{}
		for _, ip := range d.IPs {
			ips = append(ips, map[string]any{
				"IpAddress": ip.EIP, "PrivateIpAddress": ip.PrivateIP, "AllocationId": ip.AllocationID,
				"UsingStatus": "UsedBySnatTable", "SnatEntryEnabled": true, "ApAccessEnabled": false,
			})
		}
		items = append(items, map[string]any{
			"NatGatewayId": d.ID, "Name": d.Name, "VpcId": d.VPCID, "RegionId": c.region,
			"Status": d.Status, "BusinessStatus": "Normal", "NetworkType": d.NetworkType,
			"NatType": d.NatType, "Spec": d.Spec, "InstanceChargeType": d.InstanceChargeType,
			"InternetChargeType": d.InternetChargeType, "EipBindMode": d.EipBindMode,
			"EnableSessionLog": d.SessionLogEnabled,
			"IpLists":          map[string]any{"IpList": ips},
			"Tags":             map[string]any{"Tag": tagList(d.Tags, "Key", "Value")},
		})
	}
	return map[string]any{
		"TotalCount": len(all), "PageNumber": num, "PageSize": size,
		"NatGateways": map[string]any{"NatGateway": items},
	}, nil
}

func (s *Server) findNAT(c *call) (*NATGateway, *apiError) {
	id := c.p["NatGatewayId"]
	if id == "" {
		return nil, missing("NatGatewayId")
	}
	g, ok := s.nats[resKey{c.account, c.region, id}]
	if !ok {
		return nil, errorf(404, "InvalidNatGatewayId.NotFound", "The specified NAT gateway \""+id+"\" does not exist in "+c.region+".")
	}
	return g, nil
}

func (s *Server) getNatGatewayAttribute(c *call) (map[string]any, *apiError) {
	g, e := s.findNAT(c)
	if e != nil {
		return nil, e
	}
	d := natDefaults(*g)
	if s.inFlight(resKey{c.account, c.region, g.ID}) {
		d.Status = "Modifying"
	}
	ips := []any{}
	for _, ip := range d.IPs {
		ips = append(ips, map[string]any{"IpAddress": ip.EIP, "AllocationId": ip.AllocationID, "UsingStatus": "UsedBySnatTable"})
	}
	delivery := map[string]any{}
	if d.LogDestination != "" {
		status := "Succsess" // sic: the service's spelling (and "Failure")
		switch {
		case s.lastFailed(resKey{c.account, c.region, g.ID}):
			status = "Failure"
		case !d.SessionLogEnabled:
			status = ""
		}
		delivery = map[string]any{"LogDeliveryType": orDefault(d.LogDeliveryType, "sls"), "LogDestination": d.LogDestination, "DeliveryStatus": status}
	}
	return map[string]any{
		"NatGatewayId": d.ID, "Name": d.Name, "VpcId": d.VPCID, "RegionId": c.region,
		"Status": d.Status, "BusinessStatus": "Normal", "NetworkType": d.NetworkType, "NatType": d.NatType,
		"EnableSessionLog": d.SessionLogEnabled,
		"LogDelivery":      delivery,
		"BillingConfig": map[string]any{
			"InternetChargeType": d.InternetChargeType, "InstanceChargeType": d.InstanceChargeType,
			"Spec": d.Spec, "AutoPay": "false",
		},
		"IpList": ips,
	}, nil
}

// logDelivery is the JSON form of the LogDelivery parameter, as the
// official v2 SDK sends it.
type logDelivery struct {
	LogDeliveryType string `json:"LogDeliveryType"`
	LogDestination  string `json:"LogDestination"`
}

func (s *Server) modifyNatGatewayAttribute(c *call) (map[string]any, *apiError) {
	g, e := s.findNAT(c)
	if e != nil {
		return nil, e
	}
	if c.p.has("LogDelivery.") {
		// UNVERIFIED how the service treats the v1 SDK's flattened form;
		// refusing it keeps clients on the form known to work.
		return nil, invalid("LogDelivery", "send it as one JSON string, not as LogDelivery.* parameters")
	}
	k := resKey{c.account, c.region, g.ID}
	if e := s.busy(k, "IncorrectStatus.NatGateway", "NAT gateway"); e != nil {
		return nil, e
	}
	var ld *logDelivery
	if raw, ok := c.p["LogDelivery"]; ok {
		ld = &logDelivery{}
		if err := json.Unmarshal([]byte(raw), ld); err != nil {
			return nil, invalid("LogDelivery", "not a JSON object: "+err.Error())
		}
		if !strings.EqualFold(ld.LogDeliveryType, "sls") {
			return nil, invalid("LogDelivery.LogDeliveryType", "only sls is supported")
		}
		if e := checkDestination(ld.LogDestination, c.region); e != nil {
			return nil, e
		}
	}
	enable, set := false, false
	switch v := c.p["EnableSessionLog"]; strings.ToLower(v) {
	case "":
	case "true":
		enable, set = true, true
	case "false":
		set = true
	default:
		return nil, invalid("EnableSessionLog", "must be true or false")
	}
	if set && enable {
		if strings.EqualFold(natDefaults(*g).InternetChargeType, "PayBySpec") {
			// Documented limit; the exact error code is UNVERIFIED.
			return nil, errorf(400, "OperationUnsupported.SessionLog",
				"Session logs are not supported by pay-by-specification NAT gateways.")
		}
		if ld == nil && g.LogDestination == "" {
			return nil, missing("LogDelivery")
		}
	}
	// The gateway is Modifying until the change applies (timing.go).
	name := c.p["Name"]
	s.later(k, "ModifyNatGatewayAttribute", func() {
		if name != "" {
			g.Name = name
		}
		if ld != nil {
			g.LogDeliveryType, g.LogDestination = "sls", ld.LogDestination
		}
		if set {
			g.SessionLogEnabled = enable
		}
	})
	return map[string]any{}, nil
}

// checkDestination validates acs:log:<region>:<uid>:project/<p>/logstore/<ls>;
// the project must be in the gateway's region (a documented limit).
func checkDestination(dest, region string) *apiError {
	parts := strings.SplitN(dest, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != "log" || parts[3] == "" {
		return invalid("LogDelivery.LogDestination", "want acs:log:<region>:<uid>:project/<project>/logstore/<logstore>")
	}
	res := strings.Split(parts[4], "/")
	if len(res) != 4 || res[0] != "project" || res[1] == "" || res[2] != "logstore" || res[3] == "" {
		return invalid("LogDelivery.LogDestination", "want acs:log:<region>:<uid>:project/<project>/logstore/<logstore>")
	}
	if parts[2] != region {
		return invalid("LogDelivery.LogDestination", "the SLS project must be in the NAT gateway's region "+region)
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
