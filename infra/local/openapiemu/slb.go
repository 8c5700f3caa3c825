package openapiemu

import (
	"encoding/json"
	"strings"
)

func clbDefaults(l CLB) CLB {
	l.AddressType = orDefault(l.AddressType, "internet")
	l.NetworkType = orDefault(l.NetworkType, "vpc")
	l.Status = orDefault(l.Status, "active")
	return l
}

func (s *Server) describeLoadBalancers(c *call) (map[string]any, *apiError) {
	num, e := c.p.intIn("PageNumber", 1, 1, 1<<30)
	if e != nil {
		return nil, e
	}
	size, e := c.p.intIn("PageSize", 10, 1, 100)
	if e != nil {
		return nil, e
	}
	var ids []string
	if v := c.p["LoadBalancerId"]; v != "" {
		ids = strings.Split(v, ",")
	}
	all := sortedByID(s.clbs, c.account, c.region, func(l *CLB) bool {
		return (len(ids) == 0 || contains(ids, l.ID)) &&
			(c.p["VpcId"] == "" || c.p["VpcId"] == l.VPCID) &&
			(c.p["Address"] == "" || c.p["Address"] == l.Address)
	})
	items := []any{}
	for _, l := range page(all, num, size) {
		d := clbDefaults(*l)
		items = append(items, map[string]any{
			"LoadBalancerId": d.ID, "LoadBalancerName": d.Name, "VpcId": d.VPCID, "VSwitchId": d.VSwitchID,
			"Address": d.Address, "AddressType": d.AddressType, "NetworkType": d.NetworkType,
			"LoadBalancerStatus": d.Status, "RegionId": c.region, "AddressIPVersion": "ipv4",
			"Tags": map[string]any{"Tag": tagList(d.Tags, "TagKey", "TagValue")},
		})
	}
	return map[string]any{
		"TotalCount": len(all), "PageNumber": num, "PageSize": size,
		"LoadBalancers": map[string]any{"LoadBalancer": items},
	}, nil
}

func (s *Server) describeAccessLogsDownloadAttribute(c *call) (map[string]any, *apiError) {
	num, e := c.p.intIn("PageNumber", 1, 1, 1<<30)
	if e != nil {
		return nil, e
	}
	size, e := c.p.intIn("PageSize", 10, 1, 50)
	if e != nil {
		return nil, e
	}
	if t := c.p["LogType"]; t != "" && t != "layer7" {
		return nil, invalid("LogType", "only layer7 is supported")
	}
	id := c.p["LoadBalancerId"]
	all := sortedByID(s.clbs, c.account, c.region, func(l *CLB) bool {
		return l.LogProject != "" && (id == "" || l.ID == id)
	})
	items := []any{}
	for _, l := range page(all, num, size) {
		items = append(items, map[string]any{
			"LoadBalancerId": l.ID, "LogProject": l.LogProject, "LogStore": l.LogStore,
			"LogType": "layer7", "Region": c.region,
			"RoleArn": "acs:ram::" + c.account + ":role/aliyunserviceroleforslblogdelivery",
		})
	}
	return map[string]any{
		"TotalCount": len(all), "PageNumber": num, "PageSize": size, "Count": len(items),
		"LogsDownloadAttributes": map[string]any{"LogsDownloadAttribute": items},
	}, nil
}

func (s *Server) setAccessLogsDownloadAttribute(c *call) (map[string]any, *apiError) {
	raw := c.p["LogsDownloadAttributes"]
	if raw == "" {
		return nil, missing("LogsDownloadAttributes")
	}
	// The public docs show keys in inconsistent case ("logProject"); accept
	// any case, as encoding/json does.
	var attrs []struct {
		LoadBalancerID string `json:"LoadBalancerId"`
		LogProject     string `json:"LogProject"`
		LogStore       string `json:"LogStore"`
		LogType        string `json:"LogType"`
	}
	if err := json.Unmarshal([]byte(raw), &attrs); err != nil || len(attrs) == 0 {
		return nil, invalid("LogsDownloadAttributes", "want a non-empty JSON array of {LoadBalancerId, LogProject, LogStore, LogType}")
	}
	targets := make([]*CLB, len(attrs))
	for i, a := range attrs {
		if a.LoadBalancerID == "" {
			a.LoadBalancerID = c.p["LoadBalancerId"]
		}
		if a.LogProject == "" || a.LogStore == "" {
			return nil, invalid("LogsDownloadAttributes", "LogProject and LogStore are required")
		}
		if a.LogType != "" && a.LogType != "layer7" {
			return nil, invalid("LogsDownloadAttributes", "LogType must be layer7")
		}
		l, ok := s.clbs[resKey{c.account, c.region, a.LoadBalancerID}]
		if !ok {
			return nil, errorf(404, "InvalidLoadBalancerId.NotFound", "The specified LoadBalancerId \""+a.LoadBalancerID+"\" does not exist.")
		}
		targets[i] = l
	}
	// All or nothing: validate every element before changing any.
	for _, l := range targets {
		if e := s.busy(resKey{c.account, c.region, l.ID}, "OperationConflict", "load balancer"); e != nil {
			return nil, e
		}
	}
	for i, a := range attrs {
		l := targets[i]
		s.later(resKey{c.account, c.region, l.ID}, "SetAccessLogsDownloadAttribute", func() { l.LogProject, l.LogStore = a.LogProject, a.LogStore })
	}
	return map[string]any{}, nil
}
