package openapiemu

func albDefaults(a ALB) ALB {
	a.AddressType = orDefault(a.AddressType, "Internet")
	a.Edition = orDefault(a.Edition, "Standard")
	a.Status = orDefault(a.Status, "Active")
	return a
}

func albCommon(a ALB, region string) map[string]any {
	return map[string]any{
		"LoadBalancerId": a.ID, "LoadBalancerName": a.Name, "VpcId": a.VPCID, "RegionId": region,
		"AddressType": a.AddressType, "LoadBalancerEdition": a.Edition, "LoadBalancerStatus": a.Status,
		"LoadBalancerBussinessStatus": "Normal", "AddressIpVersion": "IPv4",
		"DNSName":         a.ID + "." + region + ".alb.aliyuncs.com",
		"AccessLogConfig": map[string]any{"LogProject": a.LogProject, "LogStore": a.LogStore},
		"Tags":            tagList(a.Tags, "Key", "Value"),
	}
}

func (s *Server) listLoadBalancers(c *call) (map[string]any, *apiError) {
	maxResults, e := c.p.intIn("MaxResults", 20, 1, 100)
	if e != nil {
		return nil, e
	}
	ids, vpcs := c.p.list("LoadBalancerIds"), c.p.list("VpcIds")
	all := sortedByID(s.albs, c.account, c.region, func(a *ALB) bool {
		return (len(ids) == 0 || contains(ids, a.ID)) && (len(vpcs) == 0 || contains(vpcs, a.VPCID))
	})
	pg, next, ok := tokenPage(all, c.p["NextToken"], maxResults)
	if !ok {
		return nil, errorf(400, "IllegalParam.NextToken", "The param of NextToken is illegal.")
	}
	items := []any{}
	for _, a := range pg {
		d := albDefaults(*a)
		if s.inFlight(resKey{c.account, c.region, a.ID}) {
			d.Status = "Configuring"
		}
		items = append(items, albCommon(d, c.region))
	}
	return map[string]any{
		"LoadBalancers": items, "TotalCount": len(all), "MaxResults": maxResults, "NextToken": next,
	}, nil
}

func (s *Server) findALB(c *call) (*ALB, *apiError) {
	id := c.p["LoadBalancerId"]
	if id == "" {
		return nil, missing("LoadBalancerId")
	}
	a, ok := s.albs[resKey{c.account, c.region, id}]
	if !ok {
		return nil, errorf(404, "ResourceNotFound.LoadBalancer", "The specified resource "+id+" is not found.")
	}
	return a, nil
}

func (s *Server) getLoadBalancerAttribute(c *call) (map[string]any, *apiError) {
	a, e := s.findALB(c)
	if e != nil {
		return nil, e
	}
	d := albDefaults(*a)
	if s.inFlight(resKey{c.account, c.region, a.ID}) {
		d.Status = "Configuring"
	}
	out := albCommon(d, c.region)
	// Group addresses by zone, keeping first-seen zone order.
	var zones []string
	byZone := map[string][]any{}
	vsw := map[string]string{}
	for _, ad := range d.Addresses {
		z := orDefault(ad.ZoneID, c.region+"-a")
		if _, seen := byZone[z]; !seen {
			zones = append(zones, z)
		}
		vsw[z] = orDefault(vsw[z], ad.VSwitchID)
		byZone[z] = append(byZone[z], map[string]any{
			"Address": ad.Address, "IntranetAddress": ad.IntranetAddress, "AllocationId": ad.AllocationID,
			"IntranetAddressHcStatus": "Ok",
		})
	}
	mappings := []any{}
	for _, z := range zones {
		mappings = append(mappings, map[string]any{
			"ZoneId": z, "VSwitchId": vsw[z], "Status": "Active", "LoadBalancerAddresses": byZone[z],
		})
	}
	out["ZoneMappings"] = mappings
	return out, nil
}

func (s *Server) enableLoadBalancerAccessLog(c *call) (map[string]any, *apiError) {
	a, e := s.findALB(c)
	if e != nil {
		return nil, e
	}
	if c.p["LogProject"] == "" {
		return nil, missing("LogProject")
	}
	if c.p["LogStore"] == "" {
		return nil, missing("LogStore")
	}
	k := resKey{c.account, c.region, a.ID}
	if e := s.busy(k, "Conflict.Lock", "load balancer"); e != nil {
		return nil, e
	}
	if c.p["DryRun"] == "true" {
		return nil, errorf(400, "DryRunOperation", "Request validation has been passed with DryRun flag set.")
	}
	// Applied asynchronously: the JobId completes later (timing.go).
	project, store := c.p["LogProject"], c.p["LogStore"]
	job := s.later(k, "EnableLoadBalancerAccessLog", func() { a.LogProject, a.LogStore = project, store })
	return map[string]any{"JobId": job}, nil
}
