package alert

import "encoding/json"

// Status is the outcome of tracing one alert.
type Status string

const (
	Traced        Status = "traced"
	Ambiguous     Status = "ambiguous"
	Untraced      Status = "untraced"
	NotCovered    Status = "not_covered"
	StatusInvalid Status = "invalid"
	Error         Status = "error"
)

// Egress is the shared public address the alert was seen at.
type Egress struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	PublicIP   string `json:"public_ip"`
	PublicPort uint16 `json:"public_port"`
}

// Asset is the private endpoint behind the egress.
type Asset struct {
	PrivateIP   string `json:"private_ip"`
	PrivatePort uint16 `json:"private_port"`
	VPCID       string `json:"vpc_id"`
	InstanceID  string `json:"instance_id"`
	ENIID       string `json:"eni_id"`
	AccountID   string `json:"account_id"`
	Region      string `json:"region"`
	// Load balancers only: the original client from X-Forwarded-For and
	// the upstreams the balancer tried before this one.
	ForwardedFor string   `json:"forwarded_for,omitempty"`
	Retried      []string `json:"retried_upstreams,omitempty"`
}

// Result is what an alert gets back, and what is recorded.
type Result struct {
	AlertID    string  `json:"alert_id"`
	Status     Status  `json:"status"`
	Reason     string  `json:"reason,omitempty"`
	WaitedMS   int64   `json:"waited_ms"`
	Egress     *Egress `json:"egress,omitempty"`
	Asset      *Asset  `json:"asset,omitempty"`
	Candidates []Asset `json:"candidates,omitempty"`
	// Late resolution (DESIGN.md): an untraced answer stays pending until
	// PendingUntil (RFC 3339 UTC); a result an ingest resolved afterwards is
	// Late, resolved at ResolvedAt; a correction names the status it
	// Supersedes.
	PendingUntil string          `json:"pending_until,omitempty"`
	Late         bool            `json:"late,omitempty"`
	ResolvedAt   string          `json:"resolved_at,omitempty"`
	Supersedes   Status          `json:"supersedes,omitempty"`
	Alert        json.RawMessage `json:"alert"`
}

// InvalidResult is the result of an alert that failed to decode.
func InvalidResult(inv *Invalid) Result {
	return Result{AlertID: inv.ID, Status: StatusInvalid, Reason: inv.Reason, Alert: inv.Raw}
}
