package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
)

// The inbound half: a password brute force against a shop behind an ALB
// (whose access logs carry no client port), and a request through a CLB.
const (
	attacker   = "198.51.100.23"
	albBackend = "192.168.1.9:8080"
	clbBackend = "192.168.2.7:80"
)

func (d *demo) albRequest(at time.Time, client, upstream, uri, status string) map[string]string {
	return map[string]string{
		"app_lb_id": albID, "client_ip": client, "vip_addr": albVIP, "slb_vport": "443",
		"upstream_addr": upstream, "request_time": "0.012", "time": at.Format(time.RFC3339),
		"request_method": "POST", "request_uri": uri, "status": status, "host": "shop.example.com",
		"http_user_agent": "hydra/9.5", "http_x_forwarded_for": "-", "scheme": "https",
	}
}

// ingestLB writes a minute of ALB and CLB access logs and ingests them with
// the compiled lb-ingest, one invocation per logstore as its trigger would.
func (d *demo) ingestLB(ctx context.Context) error {
	lb, err := d.lc.Function(ctx, "lb-ingest", nil)
	if err != nil {
		return err
	}
	at := d.t0.Add(6 * time.Minute)
	var alb []map[string]string
	// 240 login attempts from the attacker in a minute, all to one backend
	// (session affinity), among ordinary shoppers spread over four.
	for i := 0; i < 240; i++ {
		alb = append(alb, d.albRequest(at.Add(time.Duration(i)*250*time.Millisecond), attacker, albBackend, "/login", "401"))
	}
	for i := 0; i < 400; i++ {
		client := fmt.Sprintf("120.%d.%d.%d", 40+d.rng.IntN(20), d.rng.IntN(256), 1+d.rng.IntN(254))
		alb = append(alb, d.albRequest(at.Add(time.Duration(d.rng.IntN(60_000))*time.Millisecond), client,
			"192.168.1."+strconv.Itoa(10+d.rng.IntN(4))+":8080", "/cart", "200"))
	}
	clb := []map[string]string{{
		"slbid": clbID, "client_ip": "203.0.113.50", "client_port": "51234", "vip_addr": clbVIP, "slb_vport": "80",
		"upstream_addr": clbBackend, "request_time": "0.031", "time": at.Add(20 * time.Second).Format(time.RFC3339),
		"request_method": "GET", "request_uri": "/api/v1/users?id=1%20union%20select", "status": "200",
		"http_x_forwarded_for": "-", "host": "api.example.com",
	}}
	records, mappings := 0, 0
	for _, src := range []struct {
		ls, topic string
		recs      []map[string]string
	}{{albLS, "alb_layer7_access_log", alb}, {clbLS, "slb_layer7_access_log", clb}} {
		begin, end, err := d.lc.Put(project, src.ls, src.topic, at.Add(2*time.Minute), src.recs)
		if err != nil {
			return err
		}
		res, err := lb.Invoke(ctx, cloud.TriggerEvent(project, src.ls, begin, end))
		if err != nil {
			return err
		}
		if res.Error != nil {
			return fmt.Errorf("lb-ingest: %v", res.Error)
		}
		var s ingest.Summary
		if err := json.Unmarshal(res.Payload, &s); err != nil {
			return err
		}
		records += s.Records
		mappings += s.Mappings
	}
	fmt.Fprintf(d.out, "ALB %s (%s:443, shop) and CLB %s (%s:80, api): ingested %d access-log records with lb-ingest: %d mappings\n",
		albID, albVIP, clbID, clbVIP, records, mappings)
	return nil
}

func (d *demo) lbAlerts() []demoAlert {
	at := d.t0.Add(6 * time.Minute)
	return []demoAlert{
		{"brute force via ALB", attacker, 40022, albVIP, 443, at.Add(30 * time.Second), "ALB logs no client port"},
		{"SQL injection via CLB", "203.0.113.50", 51234, clbVIP, 80, at.Add(20 * time.Second), "CLB: exact tuple"},
	}
}
