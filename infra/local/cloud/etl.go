package cloud

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

// etlRuntime runs the deliveries of the ETL jobs of one account's SLS as the
// service does: the job reads with its own role (a role of that account)
// and writes each sink with the sink's role, assumed for the account, so
// that the sink account's trust policy decides. Writes go over HTTP through
// the front proxy, signed with the sink role's STS key.
type etlRuntime struct {
	c       *Cloud
	account string

	mu    sync.Mutex
	creds map[string]sls.CredentialsProvider // sink role -> its key
}

func newETLRuntime(c *Cloud, account string) *etlRuntime {
	return &etlRuntime{c: c, account: account, creds: map[string]sls.CredentialsProvider{}}
}

// Check implements slsemu.ETLRuntime.
func (r *etlRuntime) Check(job sls.ETL) error {
	read := job.Configuration.RoleArn
	acct, ok := r.c.OpenAPI.RoleAccount(read)
	switch {
	case read == "" || !ok:
		return fmt.Errorf("%w: the job's role %q does not exist in account %s", slsemu.ErrETLDenied, read, r.account)
	case acct != r.account:
		return fmt.Errorf("%w: the job's role %s is not a role of account %s", slsemu.ErrETLDenied, read, r.account)
	}
	for _, sk := range job.Configuration.ETLSinks {
		if _, err := r.sinkCreds(sk.RoleArn); err != nil {
			return err
		}
	}
	return nil
}

// sinkCreds assumes a sink role for the job's account and lets the sink's
// SLS accept the key.
func (r *etlRuntime) sinkCreds(role string) (sls.CredentialsProvider, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.creds[role]; ok {
		return p, nil
	}
	cr, err := r.c.OpenAPI.AssumeRoleFor(r.account, role, time.Hour)
	if err != nil {
		return nil, fmt.Errorf("%w: sink role: %v", slsemu.ErrETLDenied, err)
	}
	owner, _ := r.c.OpenAPI.RoleAccount(role)
	if owner == r.c.Account {
		r.c.SLS.AddCredentials(cr.AccessKeyID, cr.AccessKeySecret, cr.SecurityToken)
	} else {
		r.c.front.mu.Lock()
		r.c.front.keys[cr.AccessKeyID] = stsKey{account: owner, secret: cr.AccessKeySecret, token: cr.SecurityToken}
		r.c.front.mu.Unlock()
	}
	p := sls.NewStaticCredentialsProvider(cr.AccessKeyID, cr.AccessKeySecret, cr.SecurityToken)
	r.creds[role] = p
	return p, nil
}

// Write implements slsemu.ETLRuntime.
func (r *etlRuntime) Write(ctx context.Context, job sls.ETL, sink sls.ETLSink, groups []*sls.LogGroup) error {
	p, err := r.sinkCreds(sink.RoleArn)
	if err != nil {
		return err
	}
	endpoint := sink.Endpoint
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	cl := sls.CreateNormalInterfaceV2(endpoint, p)
	proxy, _ := url.Parse(r.c.proxyURL)
	cl.SetHTTPClient(&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}})
	cl.SetRetryTimeout(5 * time.Second)
	defer cl.Close()
	for _, lg := range groups {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := cl.PostLogStoreLogs(sink.Project, sink.Logstore, lg, nil); err != nil {
			return fmt.Errorf("write %s/%s: %w", sink.Project, sink.Logstore, err)
		}
	}
	return nil
}

// stopETL stops every ETL job of every account's SLS.
func (c *Cloud) stopETL() {
	c.SLS.StopAllETL()
	c.front.mu.Lock()
	members := make([]*slsemu.Server, 0, len(c.front.members))
	for _, m := range c.front.members {
		members = append(members, m.srv)
	}
	c.front.mu.Unlock()
	for _, m := range members {
		m.StopAllETL()
	}
}

// ETLReaderRole is the role onboard's ETL jobs read an account's logs with
// (onboard.DefaultETLRoleARN).
func ETLReaderRole(account string) string { return "acs:ram::" + account + ":role/ndrtrace-etl-reader" }

// ETLSinkRole is the central role they write with (onboard.DefaultETLSinkRoleARN).
func ETLSinkRole(central string) string { return "acs:ram::" + central + ":role/ndrtrace-etl-sink" }

// TrustETLSink makes the central sink role trust exactly these member
// accounts (besides the own one), as member_account_ids does in Terraform.
func (c *Cloud) TrustETLSink(members ...string) {
	c.OpenAPI.AddRole(c.Account, ETLSinkRole(c.Account), members...)
}
