package onboard

import (
	"context"
	"fmt"
	"strings"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
)

// Shipping member-account and other-region logs into the central logstores
// (DESIGN.md, "Member accounts and other regions"). A gateway or load
// balancer delivers only to a project of its own account and region, and an
// SLS trigger watches only a project of the function's region. So, in each
// other source (account, region), onboard keeps one SLS data transformation
// (ETL) job per kind of log in the source project: it reads the source
// logstore with a role of the source account (ETLRoleARN) and writes the
// central logstore of that kind with a role of the central account
// (ETLSinkRoleARN, trusting the source account), adding the fields
// account_id and region of the source so that ingest names them.

// Fields the ETL jobs add to every shipped record.
const (
	FieldAccountID = "account_id"
	FieldRegion    = "region"
)

// Default roles of the ETL jobs; {account} is the source account, {central}
// the central one.
const (
	DefaultETLRoleARN     = "acs:ram::{account}:role/ndrtrace-etl-reader"
	DefaultETLSinkRoleARN = "acs:ram::{central}:role/ndrtrace-etl-sink"
)

// ShipJobName is the name of the job shipping one kind of log; one per
// source project and kind.
func ShipJobName(k mapping.Kind) string { return "ndrtrace-ship-" + k.String() }

// ShipSpec is one ETL job as onboard wants it.
type ShipSpec struct {
	Kind mapping.Kind
	// Source: the project and logstore of the source account and region,
	// and the role that reads them.
	Endpoint, Project, Logstore, RoleARN string
	// Sink: the central logstore of the kind and the role that writes it.
	SinkEndpoint, SinkProject, SinkLogstore, SinkRoleARN string
	// Account and Region are the values of account_id and region.
	Account, Region string
	// FromTime (Unix seconds) is where a new job starts reading: when the
	// source's logging began, so nothing delivered before the job exists is
	// left behind.
	FromTime int64
}

// Name is the job's name.
func (s ShipSpec) Name() string { return ShipJobName(s.Kind) }

// Script is the SPL that adds the source's account and region.
func (s ShipSpec) Script() string {
	return fmt.Sprintf("* | extend %s = '%s', %s = '%s'", FieldAccountID, s.Account, FieldRegion, s.Region)
}

func (s ShipSpec) job() sls.ETL {
	return sls.ETL{
		Name:        s.Name(),
		DisplayName: fmt.Sprintf("ndrtrace: ship %s to %s/%s", s.Logstore, s.SinkProject, s.SinkLogstore),
		Description: "ndrtrace onboard: member-account and other-region logs into the central logstore, with account_id and region",
		Type:        sls.ETLType,
		Schedule:    sls.ETLSchedule{Type: "Resident"},
		Configuration: sls.ETLConfiguration{
			Logstore: s.Logstore, RoleArn: s.RoleARN, Script: s.Script(), Lang: "SPL", Version: sls.ETLVersion,
			FromTime: s.FromTime, Parameters: map[string]string{},
			ETLSinks: []sls.ETLSink{{
				Name: "central", Type: sls.ETLSinksType, Endpoint: s.SinkEndpoint,
				Project: s.SinkProject, Logstore: s.SinkLogstore, RoleArn: s.SinkRoleARN,
			}},
		},
	}
}

// drift lists what differs between the job as it is and as it should be.
func drift(got, want sls.ETL) []string {
	g, w := got.Configuration, want.Configuration
	var out []string
	diff := func(what, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s %q -> %q", what, a, b))
		}
	}
	diff("logstore", g.Logstore, w.Logstore)
	diff("role", g.RoleArn, w.RoleArn)
	diff("script", g.Script, w.Script)
	diff("lang", g.Lang, w.Lang)
	if len(g.ETLSinks) != len(w.ETLSinks) {
		return append(out, fmt.Sprintf("%d sinks -> %d", len(g.ETLSinks), len(w.ETLSinks)))
	}
	for i := range w.ETLSinks {
		gs, ws := g.ETLSinks[i], w.ETLSinks[i]
		diff("sink endpoint", gs.Endpoint, ws.Endpoint)
		diff("sink", gs.Project+"/"+gs.Logstore, ws.Project+"/"+ws.Logstore)
		diff("sink role", gs.RoleArn, ws.RoleArn)
	}
	return out
}

// Shipping is one job as a run left it.
type Shipping struct {
	Kind string `json:"kind"`
	Job  string `json:"job"`
	// Source and Sink are project/logstore.
	Source string `json:"source"`
	Sink   string `json:"sink"`
	// Status: running, stopped, failed (as the ETL API reports it, lower
	// case); "created" or "absent" in a dry run; "removed".
	Status string `json:"status"`
	// Reason says what to check when the job is not running.
	Reason string `json:"reason,omitempty"`
}

// Shipper manages ETL jobs; *SLS implements it (signed with the source
// account's credentials).
type Shipper interface {
	// EnsureShipping creates the job, repairs its configuration, starts it
	// when it is not running, and returns its status and what it changed.
	EnsureShipping(ctx context.Context, s ShipSpec, dryRun bool) (status string, actions []string, err error)
	// RemoveShipping stops and deletes the job; false when there was none.
	RemoveShipping(ctx context.Context, endpoint, project, name string, dryRun bool) (bool, error)
}

var _ Shipper = (*SLS)(nil)

// EnsureShipping implements Shipper.
func (s *SLS) EnsureShipping(ctx context.Context, spec ShipSpec, dryRun bool) (string, []string, error) {
	c := slslog.NewClient(spec.Endpoint, s.Creds, slslog.RetryBudget(ctx))
	defer c.Close()
	var actions []string
	want := spec.job()
	where := spec.Project + "/" + spec.Name()
	got, err := getETL(c, spec.Project, spec.Name())
	switch {
	case err != nil:
		return "", nil, err
	case got == nil:
		actions = append(actions, fmt.Sprintf("create ETL job %s: %s -> %s/%s (adds account_id %s, region %s)",
			where, spec.Logstore, spec.SinkProject, spec.SinkLogstore, spec.Account, spec.Region))
		if dryRun {
			return "absent", actions, nil
		}
		if err := c.CreateETL(spec.Project, want); err != nil && !isCode(err, "JobAlreadyExist") {
			return "", actions, fmt.Errorf("create ETL job %s: %w", where, err)
		}
	default:
		if d := drift(*got, want); len(d) > 0 {
			actions = append(actions, fmt.Sprintf("update ETL job %s: %s", where, strings.Join(d, "; ")))
			if !dryRun {
				want.Configuration.FromTime = got.Configuration.FromTime // keep its place in the source
				if err := c.UpdateETL(spec.Project, want); err != nil {
					return "", actions, fmt.Errorf("update ETL job %s: %w", where, err)
				}
			}
		}
		if st := strings.ToUpper(got.Status); st == "STOPPED" || st == "FAILED" {
			actions = append(actions, fmt.Sprintf("start ETL job %s (was %s)", where, strings.ToLower(st)))
			if dryRun {
				return strings.ToLower(st), actions, nil
			}
			if err := c.StartETL(spec.Project, spec.Name()); err != nil {
				return "", actions, fmt.Errorf("start ETL job %s: %w", where, err)
			}
		} else if dryRun || len(actions) == 0 {
			return strings.ToLower(got.Status), actions, nil
		}
	}
	if got, err = getETL(c, spec.Project, spec.Name()); err != nil {
		return "", actions, err
	}
	if got == nil {
		return "absent", actions, nil
	}
	return strings.ToLower(got.Status), actions, nil
}

// RemoveShipping implements Shipper.
func (s *SLS) RemoveShipping(ctx context.Context, endpoint, project, name string, dryRun bool) (bool, error) {
	c := slslog.NewClient(endpoint, s.Creds, slslog.RetryBudget(ctx))
	defer c.Close()
	got, err := getETL(c, project, name)
	if err != nil || got == nil || dryRun {
		return got != nil, err
	}
	if err := c.StopETL(project, name); err != nil && !isCode(err, "JobNotExist") {
		return true, fmt.Errorf("stop ETL job %s/%s: %w", project, name, err)
	}
	if err := c.DeleteETL(project, name); err != nil && !isCode(err, "JobNotExist") {
		return true, fmt.Errorf("delete ETL job %s/%s: %w", project, name, err)
	}
	return true, nil
}

// getETL returns the job, nil when it does not exist (nor its project).
func getETL(c sls.ClientInterface, project, name string) (*sls.ETL, error) {
	got, err := c.GetETL(project, name)
	switch {
	case isCode(err, "JobNotExist") || isCode(err, "ProjectNotExist"):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get ETL job %s/%s: %w", project, name, err)
	case got == nil || got.Name == "":
		// The SDK drops GetETL's decoding error: an answer without a name
		// was not understood.
		return nil, fmt.Errorf("get ETL job %s/%s: the answer does not describe a job", project, name)
	}
	return got, nil
}

// central is where shipped logs go: the function's own account and region.
type central struct {
	account, region string
	endpoint        string // SLS endpoint host of the central region
	project         string
	acct            Account // the logstore names
	sinkRole        string
}

// centralFor finds the central destination among the accounts (the own
// account's entry, else the defaults).
func (c Config) centralFor(accounts []Account, ownAccount, ownRegion string) central {
	acct := Account{ID: ownAccount, Project: DefaultProject, NATLogstore: DefaultNATLogstore,
		ALBLogstore: DefaultALBLogstore, CLBLogstore: DefaultCLBLogstore, SLSEndpoint: c.sinkEndpoint()}
	for _, a := range accounts {
		if a.Own() && a.ID == ownAccount {
			acct = a
			break
		}
	}
	endpoint := acct.EndpointFor(ownRegion)
	if _, host, ok := strings.Cut(endpoint, "://"); ok {
		endpoint = host // the ETL API takes a host
	}
	role := c.ETLSinkRoleARN
	if role == "" {
		role = DefaultETLSinkRoleARN
	}
	return central{account: ownAccount, region: ownRegion, endpoint: endpoint, project: acct.ProjectFor(ownRegion),
		acct: acct, sinkRole: strings.ReplaceAll(role, "{central}", ownAccount)}
}

func (c Config) sinkEndpoint() string {
	if len(c.Accounts) > 0 && c.Accounts[0].SLSEndpoint != "" {
		return c.Accounts[0].SLSEndpoint
	}
	return DefaultSLSEndpoint
}

var shipKinds = []mapping.Kind{mapping.KindNAT, mapping.KindALB, mapping.KindCLB}

// ship keeps the source's jobs: one per kind with an onboarded asset that
// logs, none for the others.
func (r *Runner) ship(ctx context.Context, sh Shipper, cen central, a Account, region, project string,
	assets []inventory.Asset, res *RegionResult, dryRun bool) {
	from := map[mapping.Kind]int64{}
	for _, as := range assets {
		if as.Switches.Any() && as.Logging == inventory.LogOn {
			if t := as.Since.Unix(); from[as.Kind] == 0 || t < from[as.Kind] {
				from[as.Kind] = t
			}
		}
	}
	readRole := a.ETLRoleARN
	if readRole == "" {
		readRole = DefaultETLRoleARN
	}
	readRole = strings.ReplaceAll(readRole, "{account}", a.ID)
	for _, k := range shipKinds {
		spec := ShipSpec{
			Kind: k, Endpoint: a.EndpointFor(region), Project: project, Logstore: a.Logstore(k), RoleARN: readRole,
			SinkEndpoint: cen.endpoint, SinkProject: cen.project, SinkLogstore: cen.acct.Logstore(k), SinkRoleARN: cen.sinkRole,
			Account: a.ID, Region: region, FromTime: from[k],
		}
		st := Shipping{Kind: k.String(), Job: spec.Name(), Source: project + "/" + spec.Logstore, Sink: cen.project + "/" + spec.SinkLogstore}
		if _, want := from[k]; !want {
			had, err := sh.RemoveShipping(ctx, spec.Endpoint, project, spec.Name(), dryRun)
			switch {
			case err != nil:
				st.Status, st.Reason = "failed", err.Error()
			case !had:
				continue
			default:
				st.Status = "removed"
				res.Actions = append(res.Actions, fmt.Sprintf("remove ETL job %s/%s (no onboarded %s logs here any more)", project, spec.Name(), k))
			}
			res.Shipping = append(res.Shipping, st)
			continue
		}
		status, actions, err := sh.EnsureShipping(ctx, spec, dryRun)
		res.Actions = append(res.Actions, actions...)
		st.Status = status
		switch {
		case err != nil:
			st.Status, st.Reason = "failed", err.Error()
		case status == "failed":
			st.Reason = fmt.Sprintf("the ETL job does not run: check that role %s exists in account %s and may read %s, and that role %s exists and trusts account %s with log:PostLogStoreLogs on %s",
				readRole, a.ID, st.Source, cen.sinkRole, a.ID, st.Sink)
		}
		res.Shipping = append(res.Shipping, st)
	}
}
