// Package results records trace results durably in an SLS logstore, so that
// an asynchronous caller (or anyone later) can read every alert and what
// became of it.
package results

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

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

// SLS's write limits (reference/cross-account-etl-and-limits.md): a log
// group of at most 5 MB and 4096 logs, a log of at most 1 MB. Groups are
// cut below them, with room for the group's own fields.
const (
	MaxGroupBytes = 5<<20 - 64<<10
	MaxGroupLogs  = 4096
	MaxLogBytes   = 1<<20 - 64<<10
	// partBytes is the slice of an oversized alert carried by one log.
	partBytes = 512 << 10
)

// Record writes the results, in as many PutLogs calls as SLS's limits
// need, in order. When one fails the error says how many were written
// before it; the caller's fallback copies them all.
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
	written := 0
	for _, lg := range Groups(rs, time.Now()) {
		if err := bound(ctx, c); err != nil {
			return fmt.Errorf("record %d results in %s/%s (%d logs written before): %w", len(rs), s.Project, s.Logstore, written, err)
		}
		if err := c.PutLogs(s.Project, s.Logstore, lg); err != nil {
			return fmt.Errorf("record %d results in %s/%s (%d logs written before this failure): %w", len(rs), s.Project, s.Logstore, written, err)
		}
		written += len(lg.Logs)
	}
	return nil
}

// bound limits the SDK's next call, retries included, to ctx's deadline.
// The SDK sends without a context, so a stalled logstore would otherwise
// hold the answer back for its 60 s request timeout, retried.
func bound(ctx context.Context, c sls.ClientInterface) error {
	dl, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	left := time.Until(dl)
	if left <= 0 {
		return fmt.Errorf("no time left before the deadline: %w", context.DeadlineExceeded)
	}
	c.SetRetryTimeout(left)
	c.SetHTTPClient(&http.Client{Timeout: left, Transport: transport})
	return nil
}

// transport is shared by every Record so that connections are reused
// across invocations of a warm instance.
var transport = http.DefaultTransport.(*http.Transport).Clone()

// Groups renders results as log groups within SLS's write limits, in order.
// A result whose log would exceed one log's limit (only an alert refused
// whole, such as a body that is not JSON, can be that large) is carried by
// several logs: each has its alert_id, status and alert_part ("2/5"), and
// a slice of the alert's text, cut between UTF-8 characters.
func Groups(rs []alert.Result, now time.Time) []*sls.LogGroup {
	topic := Topic
	var out []*sls.LogGroup
	var cur *sls.LogGroup
	size := 0
	add := func(l *sls.Log) {
		n := l.Size() + 8 // the log's tag and length in the group
		if cur == nil || len(cur.Logs) == MaxGroupLogs || size+n > MaxGroupBytes {
			cur = &sls.LogGroup{Topic: &topic}
			out = append(out, cur)
			size = 0
		}
		cur.Logs = append(cur.Logs, l)
		size += n
	}
	t := uint32(now.Unix())
	for _, r := range rs {
		l := resultLog(r, t)
		if l.Size() <= MaxLogBytes {
			add(l)
			continue
		}
		for _, p := range parts(r, t) {
			add(p)
		}
	}
	return out
}

func field(l *sls.Log, k, v string) {
	if v != "" {
		l.Contents = append(l.Contents, &sls.LogContent{Key: proto.String(k), Value: proto.String(v)})
	}
}

// resultLog is one result as a log: flat fields for the index, and the
// alert and candidates as JSON.
func resultLog(r alert.Result, t uint32) *sls.Log {
	l := &sls.Log{Time: &t}
	add := func(k, v string) { field(l, k, v) }
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
	add("pending_until", r.PendingUntil)
	if r.Late {
		add("late", "true")
	}
	add("resolved_at", r.ResolvedAt)
	add("supersedes", string(r.Supersedes))
	add("alert", string(r.Alert))
	return l
}

// parts spreads an oversized result over several logs. The first carries
// every field but the alert; each carries alert_id, status, alert_part and
// a slice of the alert.
func parts(r alert.Result, t uint32) []*sls.Log {
	whole := r
	whole.Alert = nil
	first := resultLog(whole, t)
	text := string(r.Alert)
	var slices []string
	for len(text) > 0 {
		n := min(partBytes, len(text))
		for n < len(text) && !utf8.RuneStart(text[n]) {
			n--
		}
		slices = append(slices, text[:n])
		text = text[n:]
	}
	out := make([]*sls.Log, len(slices))
	for i, sl := range slices {
		l := first
		if i > 0 {
			l = &sls.Log{Time: &t}
			field(l, "alert_id", r.AlertID)
			field(l, "status", string(r.Status))
		}
		field(l, "alert_part", fmt.Sprintf("%d/%d", i+1, len(slices)))
		field(l, "alert", sl)
		out[i] = l
	}
	return out
}
