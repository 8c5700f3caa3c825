package onboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/ndrtrace/ndrtrace/shared/fcenv"
)

// Handler is the onboard function's FC entry point.
type Handler struct {
	Runner *Runner
}

// Handle runs onboarding for a timer event
// ({"triggerTime","triggerName","payload"}, the payload optionally
// {"dry_run":true} as a JSON string or object) or a direct invocation
// ({"dry_run":true}, or nothing). ONBOARD_DRY_RUN=true makes every run dry.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*Summary, error) {
	dry, err := ParseEvent(payload)
	if err != nil {
		return nil, err
	}
	dry = dry || h.Runner.Config.DryRun
	sum, err := h.Runner.Run(ctx, dry)
	log := fcenv.Logger(ctx)
	if err != nil {
		log.Error("onboarding failed", "err", err.Error())
		return sum, err
	}
	for _, r := range sum.Results {
		attrs := []any{"account", r.AccountID, "region", r.Region, "status", r.Status, "dry_run", dry,
			"discovered", len(r.Discovered), "enabled", r.Enabled, "already_enabled", len(r.AlreadyEnabled),
			"skipped", len(r.Skipped), "failed", len(r.Failed), "pending", len(r.Pending), "untagged", r.Untagged}
		if r.Status != StatusOK {
			log.Warn("onboarding region failed", append(attrs, "err", r.Error)...)
		} else {
			log.Info("onboarded region", attrs...)
		}
	}
	for _, rc := range sum.Roles {
		if rc.Status == RoleMissing {
			log.Warn("log-delivery role missing", "account", rc.AccountID, "role", rc.Role, "for", rc.For, "reason", rc.Reason)
		}
	}
	return sum, nil
}

// ParseEvent reads the dry-run flag of an invocation event.
func ParseEvent(payload []byte) (dryRun bool, err error) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || bytes.Equal(payload, []byte("null")) {
		return false, nil
	}
	var ev struct {
		DryRun  *bool           `json:"dry_run"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return false, fmt.Errorf("onboard: the event is not a JSON object (a timer event or {\"dry_run\":true}): %w", err)
	}
	if ev.DryRun != nil {
		return *ev.DryRun, nil
	}
	inner := bytes.TrimSpace(ev.Payload)
	if len(inner) > 0 && inner[0] == '"' {
		// FC timer payloads are strings; ours holds JSON.
		var s string
		if err := json.Unmarshal(inner, &s); err != nil {
			return false, err
		}
		inner = bytes.TrimSpace([]byte(s))
	}
	if len(inner) == 0 || inner[0] != '{' {
		return false, nil // no payload, or free text: a normal run
	}
	var p struct {
		DryRun bool `json:"dry_run"`
	}
	if err := json.Unmarshal(inner, &p); err != nil {
		return false, fmt.Errorf("onboard: timer payload %q is not {\"dry_run\":true|false}: %w", inner, err)
	}
	return p.DryRun, nil
}
