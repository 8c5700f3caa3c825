package onboard

import "time"

// Summary is what a run returns.
type Summary struct {
	DryRun     bool      `json:"dry_run"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	// InventoryFilled is true when this run completed in every account and
	// region and marked the inventory filled (never in a dry run).
	InventoryFilled bool            `json:"inventory_filled"`
	Results         []*RegionResult `json:"results"`
	// Roles are the log-delivery roles of the accounts that onboard ALBs or
	// CLBs: present, created (or would_create in a dry run), or missing with
	// the reason and what to do.
	Roles []RoleCheck `json:"roles"`
	// ConfiguredNotFound lists ONBOARD_ASSETS ids that no account or region
	// listed (only when every region was listed).
	ConfiguredNotFound []string `json:"configured_not_found,omitempty"`
}

// Region statuses.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// RegionResult is the outcome in one account and region. Asset lists hold
// resource ids (ngw-..., alb-..., lb-...). In a dry run they say what a real
// run would do.
type RegionResult struct {
	AccountID string `json:"account_id"`
	Region    string `json:"region"`
	Status    string `json:"status"`
	// Error is why the whole region failed (listing, role, inventory).
	Error      string   `json:"error,omitempty"`
	Discovered []string `json:"discovered"`
	// Enabled: logging switched on by this run (onboarded and newly enabled).
	Enabled []string `json:"enabled"`
	// AlreadyEnabled: onboarded, logging already on into the configured logstore.
	AlreadyEnabled []string `json:"already_enabled"`
	// Skipped: onboarded but left as they are, with the reason.
	Skipped []Reasoned `json:"skipped"`
	// Failed: onboarded but enabling (or preparing the logstore) failed.
	Failed []Reasoned `json:"failed"`
	// Pending: a change made (logging switched on or off) that the control
	// plane had not completed when the run's wait ended (ONBOARD_CHANGE_WAIT),
	// with what was last seen. Not counted as logging until a run sees it
	// complete.
	Pending []Reasoned `json:"pending"`
	// Untagged: onboarded before, no longer: switches turned off.
	Untagged []string `json:"untagged"`
	// Disabled: logging switched off on untagging (ONBOARD_DISABLE_ON_UNTAG).
	Disabled []string `json:"disabled"`
	// Removed: gone from the cloud, dropped from the inventory.
	Removed []string `json:"removed"`
	// Shipping: the ETL jobs that ship this source's logs to the central
	// logstores (member accounts and other regions only).
	Shipping []Shipping `json:"shipping"`
	// Actions lists every write, done (or, in a dry run, planned), in order.
	Actions []string `json:"actions"`
	// Addresses counts the private addresses whose holder (ENI, ECS
	// instance) this run recorded, HoldersChanged those that changed hands
	// since the previous run; HoldersError says why they could not be
	// recorded (the region is onboarded all the same).
	Addresses      int    `json:"addresses"`
	HoldersChanged int    `json:"holders_changed"`
	HoldersError   string `json:"holders_error,omitempty"`
}

// Reasoned is an asset with a reason.
type Reasoned struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func newRegionResult(account, region string) *RegionResult {
	return &RegionResult{
		AccountID: account, Region: region, Status: StatusOK,
		Discovered: []string{}, Enabled: []string{}, AlreadyEnabled: []string{}, Skipped: []Reasoned{},
		Failed: []Reasoned{}, Pending: []Reasoned{}, Untagged: []string{}, Disabled: []string{}, Removed: []string{}, Actions: []string{}, Shipping: []Shipping{},
	}
}

func (r *RegionResult) fail(err error) {
	r.Status, r.Error = StatusFailed, err.Error()
}
