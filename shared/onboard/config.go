package onboard

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

// Environment variables of the onboard function.
const (
	EnvAccounts       = "ONBOARD_ACCOUNTS"
	EnvRetentionDays  = "ONBOARD_RETENTION_DAYS"
	EnvTagKey         = "ONBOARD_TAG_KEY"
	EnvAssets         = "ONBOARD_ASSETS"
	EnvDisableOnUntag = "ONBOARD_DISABLE_ON_UNTAG"
	EnvDryRun         = "ONBOARD_DRY_RUN"
	EnvSLSEndpoint    = "ONBOARD_SLS_ENDPOINT"
	EnvETLSinkRoleARN = "ONBOARD_ETL_SINK_ROLE_ARN"
	// EnvChangeWait bounds how long a run waits, per region, for the
	// control plane to apply the changes it made (a Go duration, "2m").
	EnvChangeWait = "ONBOARD_CHANGE_WAIT"
)

// Defaults.
const (
	DefaultTagKey        = "ndr-trace"
	DefaultRetentionDays = 30
	DefaultProject       = "ndr-logs-{account}-{region}"
	DefaultNATLogstore   = "nat-sessions"
	DefaultALBLogstore   = "alb-access"
	DefaultCLBLogstore   = "clb-access"
	DefaultSLSEndpoint   = "https://{region}.log.aliyuncs.com"
	DefaultChangeWait    = 2 * time.Minute
)

// Account is one account to manage, as ONBOARD_ACCOUNTS lists it:
//
//	[{"account_id":"1234567890123456","regions":["cn-hangzhou"]},
//	 {"account_id":"2000000000000002","role_arn":"acs:ram::2000000000000002:role/ndrtrace-onboard",
//	  "regions":["cn-hangzhou","cn-shanghai"],"project":"ndr-logs-{account}-{region}",
//	  "nat_logstore":"nat-sessions","alb_logstore":"alb-access","clb_logstore":"clb-access",
//	  "sls_endpoint":"https://{region}.log.aliyuncs.com"}]
//
// An empty role_arn is the function's own account (its id defaults to the FC
// account); a member account is reached by assuming role_arn (its id
// defaults to the ARN's). Empty regions default to the function's region.
// Project and endpoint may use {account} and {region}.
type Account struct {
	ID          string   `json:"account_id"`
	RoleARN     string   `json:"role_arn"`
	Regions     []string `json:"regions"`
	Project     string   `json:"project"`
	NATLogstore string   `json:"nat_logstore"`
	ALBLogstore string   `json:"alb_logstore"`
	CLBLogstore string   `json:"clb_logstore"`
	SLSEndpoint string   `json:"sls_endpoint"`
	// ETLRoleARN is the role of this account the ETL jobs shipping its
	// logs read with (default DefaultETLRoleARN; {account} is expanded).
	ETLRoleARN string `json:"etl_role_arn"`
}

// Own reports the function's own account.
func (a Account) Own() bool { return a.RoleARN == "" }

// ProjectFor is the SLS project of a region.
func (a Account) ProjectFor(region string) string { return expand(a.Project, a.ID, region) }

// EndpointFor is the SLS endpoint of a region.
func (a Account) EndpointFor(region string) string { return expand(a.SLSEndpoint, a.ID, region) }

// Logstore is the logstore of an egress kind.
func (a Account) Logstore(k mapping.Kind) string {
	switch k {
	case mapping.KindNAT:
		return a.NATLogstore
	case mapping.KindALB:
		return a.ALBLogstore
	}
	return a.CLBLogstore
}

func expand(tmpl, account, region string) string {
	return strings.NewReplacer("{account}", account, "{region}", region).Replace(tmpl)
}

// Config is the onboard function's configuration.
type Config struct {
	Accounts      []Account
	RetentionDays int
	TagKey        string
	// Assets are onboarded whatever their tags, with these switches
	// (ONBOARD_ASSETS: {"ngw-...":"all","alb-...":"attack"}).
	Assets         map[string]inventory.Switches
	DisableOnUntag bool
	DryRun         bool
	Cloud          cloud.Config
	// ETLSinkRoleARN is the central account's role the ETL jobs write with
	// (ONBOARD_ETL_SINK_ROLE_ARN, default DefaultETLSinkRoleARN; {central}
	// is expanded).
	ETLSinkRoleARN string
	// ChangeWait bounds the wait for the changes of one region to take
	// effect (ONBOARD_CHANGE_WAIT, default DefaultChangeWait); the
	// invocation's deadline bounds it too.
	ChangeWait time.Duration
}

// Load reads the configuration through getenv. Accounts whose id or
// regions default to the FC context are completed by Config.Resolve at run
// time.
func Load(getenv func(string) string) (Config, error) {
	c := Config{TagKey: DefaultTagKey, RetentionDays: DefaultRetentionDays, ChangeWait: DefaultChangeWait}
	if v := strings.TrimSpace(getenv(EnvChangeWait)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > time.Hour {
			return c, fmt.Errorf("%s=%q: want a duration from 1s to 1h, such as 2m", EnvChangeWait, v)
		}
		c.ChangeWait = d
	}
	if v := strings.TrimSpace(getenv(EnvTagKey)); v != "" {
		c.TagKey = v
	}
	if v := strings.TrimSpace(getenv(EnvRetentionDays)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return c, fmt.Errorf("%s=%q: want whole days from 1 to 3650 (3650 keeps logs permanently)", EnvRetentionDays, v)
		}
		c.RetentionDays = n
	}
	var err error
	if c.DisableOnUntag, err = boolEnv(getenv, EnvDisableOnUntag); err != nil {
		return c, err
	}
	if c.DryRun, err = boolEnv(getenv, EnvDryRun); err != nil {
		return c, err
	}
	if c.Assets, err = parseAssets(getenv(EnvAssets)); err != nil {
		return c, err
	}
	c.ETLSinkRoleARN = strings.TrimSpace(getenv(EnvETLSinkRoleARN))
	endpoint := strings.TrimSpace(getenv(EnvSLSEndpoint))
	if endpoint == "" {
		endpoint = DefaultSLSEndpoint
	}
	if c.Accounts, err = parseAccounts(getenv(EnvAccounts), endpoint); err != nil {
		return c, err
	}
	if c.Cloud, err = cloud.ConfigFromEnv(getenv); err != nil {
		return c, err
	}
	return c, nil
}

func boolEnv(getenv func(string) string, name string) (bool, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q is not true or false", name, v)
	}
	return b, nil
}

func parseAssets(s string) (map[string]inventory.Switches, error) {
	out := map[string]inventory.Switches{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf(`%s is not a JSON object like {"ngw-...":"all","alb-...":"attack"}: %w`, EnvAssets, err)
	}
	for id, v := range raw {
		if !mapping.ValidID(id) {
			return nil, fmt.Errorf("%s: %q is not a resource id", EnvAssets, id)
		}
		var sw inventory.Switches
		var err error
		switch v := v.(type) {
		case string:
			sw, err = inventory.ParseSwitches(v)
		case bool:
			if v {
				sw = inventory.All
			}
		default:
			err = fmt.Errorf("want a string or a boolean")
		}
		if err != nil {
			return nil, fmt.Errorf("%s[%s]: %w", EnvAssets, id, err)
		}
		out[id] = sw
	}
	return out, nil
}

func parseAccounts(s, endpoint string) ([]Account, error) {
	var list []Account
	if strings.TrimSpace(s) == "" {
		list = []Account{{}} // the own account, in the function's region
	} else if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("%s is not a JSON list of accounts: %w", EnvAccounts, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s lists no account", EnvAccounts)
	}
	for i := range list {
		a := &list[i]
		a.RoleARN = strings.TrimSpace(a.RoleARN)
		if a.RoleARN != "" {
			uid := inventory.RoleAccount(a.RoleARN)
			if uid == "" {
				return nil, fmt.Errorf("%s[%d].role_arn %q is not acs:ram::<account>:role/<name>", EnvAccounts, i, a.RoleARN)
			}
			if a.ID == "" {
				a.ID = uid
			}
			if a.ID != uid {
				return nil, fmt.Errorf("%s[%d]: account_id %s and the account of role_arn (%s) differ", EnvAccounts, i, a.ID, uid)
			}
		}
		if a.ID != "" && !digits(a.ID) {
			return nil, fmt.Errorf("%s[%d].account_id %q is not an account id", EnvAccounts, i, a.ID)
		}
		for _, r := range a.Regions {
			if !mapping.ValidID(r) {
				return nil, fmt.Errorf("%s[%d]: region %q is not a region id", EnvAccounts, i, r)
			}
		}
		def := func(p *string, v string) {
			if *p = strings.TrimSpace(*p); *p == "" {
				*p = v
			}
		}
		def(&a.Project, DefaultProject)
		def(&a.NATLogstore, DefaultNATLogstore)
		def(&a.ALBLogstore, DefaultALBLogstore)
		def(&a.CLBLogstore, DefaultCLBLogstore)
		def(&a.SLSEndpoint, endpoint)
		for _, ls := range []string{a.NATLogstore, a.ALBLogstore, a.CLBLogstore} {
			if !validLogstore(ls) {
				return nil, fmt.Errorf("%s[%d]: %q is not a logstore name (3-63 of a-z, 0-9, '-', '_')", EnvAccounts, i, ls)
			}
		}
		if !validProject(expand(a.Project, "1234567890123456", "cn-hangzhou")) {
			return nil, fmt.Errorf("%s[%d]: project %q does not make a project name (3-63 of a-z, 0-9, '-')", EnvAccounts, i, a.Project)
		}
	}
	return list, nil
}

// Resolve completes accounts from the FC context: the own account's id and
// the default region. It returns a copy.
func (c Config) Resolve(ownAccount, ownRegion string) ([]Account, error) {
	out := make([]Account, len(c.Accounts))
	for i, a := range c.Accounts {
		if a.ID == "" {
			a.ID = ownAccount
		}
		if !digits(a.ID) {
			return nil, fmt.Errorf("%s[%d]: no account_id, and the function's account is unknown", EnvAccounts, i)
		}
		if len(a.Regions) == 0 {
			if !mapping.ValidID(ownRegion) {
				return nil, fmt.Errorf("%s[%d]: no regions, and the function's region is unknown", EnvAccounts, i)
			}
			a.Regions = []string{ownRegion}
		}
		for _, r := range a.Regions {
			if p := a.ProjectFor(r); !validProject(p) {
				return nil, fmt.Errorf("%s[%d]: project name %q is not valid", EnvAccounts, i, p)
			}
		}
		out[i] = a
	}
	return out, nil
}

func digits(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validProject follows SLS project naming: 3-63 characters of lower-case
// letters, digits and hyphens, starting and ending with a letter or digit.
func validProject(s string) bool {
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validLogstore follows SLS logstore naming: 3-63 characters of lower-case
// letters, digits, hyphens and underscores, starting and ending with a
// letter or digit.
func validLogstore(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	first, last := s[0], s[len(s)-1]
	if first == '-' || first == '_' || last == '-' || last == '_' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
