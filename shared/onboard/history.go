package onboard

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// recordHolders lists the region's ENIs and records which instance holds
// each private address (inventory.RecordHolders), so that trace names
// instances at an alert's time without calling ECS. A failure here is
// reported but does not fail the region: the egresses are onboarded
// all the same, and trace falls back to ECS for addresses it never saw.
func (r *Runner) recordHolders(ctx context.Context, cl Cloud, region string, res *RegionResult, at time.Time, dryRun bool) {
	if dryRun {
		return
	}
	enis, err := cl.ListENIs(ctx, region)
	if err != nil {
		res.HoldersError = err.Error()
		return
	}
	byVPC := holdersByVPC(enis)
	n, err := r.Inv.RecordHolders(ctx, at, byVPC)
	if err != nil {
		res.HoldersError = fmt.Sprintf("record address holders: %v", err)
		return
	}
	for _, m := range byVPC {
		res.Addresses += len(m)
	}
	res.HoldersChanged = n
}

// holdersByVPC groups the addresses of ENIs by VPC. An ENI or instance
// whose id cannot be a key, or an address that is none, is left out. The
// primary address of an instance's primary ENI has been held since the
// ENI's creation (it cannot move); other addresses from when a scan saw
// them.
func holdersByVPC(enis []cloud.ENI) map[string]map[netip.Addr]inventory.Holder {
	out := map[string]map[netip.Addr]inventory.Holder{}
	for _, e := range enis {
		if !mapping.ValidID(e.VPCID) || !mapping.ValidID(e.ID) || e.InstanceID != "" && (e.InstanceID == "-" || !mapping.ValidID(e.InstanceID)) {
			continue
		}
		for _, s := range e.Addresses {
			ip, err := tuple.ParseAddr(s)
			if err != nil {
				continue
			}
			h := inventory.Holder{Instance: e.InstanceID, ENI: e.ID}
			if s == e.PrivateIP && e.Type == "Primary" && e.InstanceID != "" {
				h.Since = e.Created
			}
			if out[e.VPCID] == nil {
				out[e.VPCID] = map[netip.Addr]inventory.Holder{}
			}
			out[e.VPCID][ip.Unmap()] = h
		}
	}
	return out
}
