// Package results records trace results durably in an SLS logstore, so that
// an asynchronous caller (or anyone later) can read every alert and what
// became of it.
package results

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
)

// Topic marks result log groups.
const Topic = "ndrtrace_result"

// Recorder writes results somewhere durable.
type Recorder interface {
	Record(ctx context.Context, rs []alert.Result) error
}

// SLS records results with PutLogs, signed with the invocation's STS
// credentials.
type SLS struct {
	Endpoint, Project, Logstore string
}

// Record writes all results as one log group.
func (s *SLS) Record(ctx context.Context, rs []alert.Result) error {
	if len(rs) == 0 {
		return nil
	}
	cred, err := fcenv.CredentialsFrom(ctx)
	if err != nil {
		return fmt.Errorf("record results: %w", err)
	}
	c := slslog.NewClient(s.Endpoint, cred, slslog.RetryBudget(ctx))
	defer c.Close()
	lg := Group(rs, time.Now())
	if err := c.PutLogs(s.Project, s.Logstore, lg); err != nil {
		return fmt.Errorf("record %d results in %s/%s: %w", len(rs), s.Project, s.Logstore, err)
	}
	return nil
}

// Group renders results as a log group: flat fields for the index, and the
// alert and candidates as JSON.
func Group(rs []alert.Result, now time.Time) *sls.LogGroup {
	topic := Topic
	lg := &sls.LogGroup{Topic: &topic}
	t := uint32(now.Unix())
	for _, r := range rs {
		l := &sls.Log{Time: &t}
		add := func(k, v string) {
			if v != "" {
				l.Contents = append(l.Contents, &sls.LogContent{Key: &k, Value: &v})
			}
		}
		add("alert_id", r.AlertID)
		add("status", string(r.Status))
		add("reason", r.Reason)
		add("waited_ms", strconv.FormatInt(r.WaitedMS, 10))
		if e := r.Egress; e != nil {
			add("egress_type", e.Type)
			add("egress_id", e.ID)
			add("public_ip", e.PublicIP)
			add("public_port", strconv.Itoa(int(e.PublicPort)))
		}
		if a := r.Asset; a != nil {
			add("private_ip", a.PrivateIP)
			add("private_port", strconv.Itoa(int(a.PrivatePort)))
			add("vpc_id", a.VPCID)
			add("instance_id", a.InstanceID)
			add("eni_id", a.ENIID)
			add("account_id", a.AccountID)
			add("region", a.Region)
		}
		if len(r.Candidates) > 0 {
			b, _ := json.Marshal(r.Candidates)
			add("candidates", string(b))
		}
		add("alert", string(r.Alert))
		lg.Logs = append(lg.Logs, l)
	}
	return lg
}
