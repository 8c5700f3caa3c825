package openapiemu

import "encoding/json"

// Switching access logs off: what onboard calls when an untagged load
// balancer is retired (ONBOARD_DISABLE_ON_UNTAG).
var logOffHandlers = map[string]map[string]handler{
	"alb": {"DisableLoadBalancerAccessLog": (*Server).disableLoadBalancerAccessLog},
	"slb": {"DeleteAccessLogsDownloadAttribute": (*Server).deleteAccessLogsDownloadAttribute},
}

func (s *Server) disableLoadBalancerAccessLog(c *call) (map[string]any, *apiError) {
	a, e := s.findALB(c)
	if e != nil {
		return nil, e
	}
	k := resKey{c.account, c.region, a.ID}
	if e := s.busy(k, "Conflict.Lock", "load balancer"); e != nil {
		return nil, e
	}
	if c.p["DryRun"] == "true" {
		return nil, errorf(400, "DryRunOperation", "Request validation has been passed with DryRun flag set.")
	}
	job := s.later(k, "DisableLoadBalancerAccessLog", func() { a.LogProject, a.LogStore = "", "" })
	return map[string]any{"JobId": job}, nil
}

func (s *Server) deleteAccessLogsDownloadAttribute(c *call) (map[string]any, *apiError) {
	raw := c.p["LogsDownloadAttributes"]
	if raw == "" {
		return nil, missing("LogsDownloadAttributes")
	}
	var attrs []struct {
		LoadBalancerID string `json:"LoadBalancerId"`
		LogType        string `json:"LogType"`
	}
	if err := json.Unmarshal([]byte(raw), &attrs); err != nil || len(attrs) == 0 {
		return nil, invalid("LogsDownloadAttributes", "want a non-empty JSON array of {LoadBalancerId, LogType}")
	}
	targets := make([]*CLB, len(attrs))
	for i, a := range attrs {
		if a.LogType != "" && a.LogType != "layer7" {
			return nil, invalid("LogsDownloadAttributes", "LogType must be layer7")
		}
		l, e := s.clbOf(c, a.LoadBalancerID)
		if e != nil {
			return nil, e
		}
		targets[i] = l
	}
	for _, l := range targets {
		if e := s.busy(resKey{c.account, c.region, l.ID}, "OperationConflict", "load balancer"); e != nil {
			return nil, e
		}
	}
	for _, l := range targets {
		s.later(resKey{c.account, c.region, l.ID}, "DeleteAccessLogsDownloadAttribute", func() { l.LogProject, l.LogStore = "", "" })
	}
	return map[string]any{}, nil
}

// clbOf finds the CLB an element of LogsDownloadAttributes names (or the
// request's LoadBalancerId).
func (s *Server) clbOf(c *call, id string) (*CLB, *apiError) {
	if id == "" {
		id = c.p["LoadBalancerId"]
	}
	l, ok := s.clbs[resKey{c.account, c.region, id}]
	if !ok {
		return nil, errorf(404, "InvalidLoadBalancerId.NotFound", "The specified LoadBalancerId \""+id+"\" does not exist.")
	}
	return l, nil
}
