package openapiemu

func (s *Server) describeNetworkInterfaces(c *call) (map[string]any, *apiError) {
	ids := c.p.list("NetworkInterfaceId")
	secondary := c.p.list("PrivateIpAddress")
	all := sortedByID(s.enis, c.account, c.region, func(n *ENI) bool {
		if len(ids) > 0 && !contains(ids, n.ID) {
			return false
		}
		if v := c.p["VpcId"]; v != "" && v != n.VPCID {
			return false
		}
		if v := c.p["VSwitchId"]; v != "" && v != n.VSwitchID {
			return false
		}
		if v := c.p["InstanceId"]; v != "" && v != n.InstanceID {
			return false
		}
		if v := c.p["PrimaryIpAddress"]; v != "" && v != n.PrimaryIP {
			return false
		}
		// PrivateIpAddress.N are documented as the ENI's secondary addresses.
		for _, ip := range secondary {
			if !contains(n.SecondaryIPs, ip) {
				return false
			}
		}
		return true
	})
	out := map[string]any{"TotalCount": len(all)}
	var pg []*ENI
	if _, tokenMode := c.p["MaxResults"]; tokenMode || c.p["NextToken"] != "" {
		maxResults, e := c.p.intIn("MaxResults", 10, 10, 500)
		if e != nil {
			return nil, e
		}
		var next string
		var ok bool
		pg, next, ok = tokenPage(all, c.p["NextToken"], maxResults)
		if !ok {
			return nil, invalid("NextToken", "unknown token")
		}
		out["NextToken"] = next
	} else {
		num, e := c.p.intIn("PageNumber", 1, 1, 1<<30)
		if e != nil {
			return nil, e
		}
		size, e := c.p.intIn("PageSize", 10, 1, 1000)
		if e != nil {
			return nil, e
		}
		pg = page(all, num, size)
		out["PageNumber"], out["PageSize"] = num, size
	}
	items := []any{}
	for _, n := range pg {
		typ, status := n.Type, n.Status
		if typ == "" {
			typ = "Secondary"
			if n.InstanceID != "" {
				typ = "Primary"
			}
		}
		if status == "" {
			status = "Available"
			if n.InstanceID != "" {
				status = "InUse"
			}
		}
		ips := []any{map[string]any{"PrivateIpAddress": n.PrimaryIP, "Primary": true}}
		for _, ip := range n.SecondaryIPs {
			ips = append(ips, map[string]any{"PrivateIpAddress": ip, "Primary": false})
		}
		created := ""
		if !n.Created.IsZero() {
			created = n.Created.UTC().Format("2006-01-02T15:04:05Z")
		}
		items = append(items, map[string]any{
			"CreationTime": created, "NetworkInterfaceId": n.ID, "InstanceId": n.InstanceID, "VpcId": n.VPCID, "VSwitchId": n.VSwitchID,
			"PrivateIpAddress": n.PrimaryIP, "Type": typ, "Status": status, "ServiceManaged": n.ServiceManaged,
			"PrivateIpSets": map[string]any{"PrivateIpSet": ips},
		})
	}
	out["NetworkInterfaceSets"] = map[string]any{"NetworkInterfaceSet": items}
	return out, nil
}
