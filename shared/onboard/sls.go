package onboard

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
)

// Destination is where one kind of log of one account and region goes.
type Destination struct {
	Endpoint, Project, Logstore string
	TTL                         int // days
	Kind                        mapping.Kind
}

func (d Destination) String() string { return d.Project + "/" + d.Logstore }

// Logs provisions SLS destinations.
type Logs interface {
	// Ensure makes the destination's project and logstore exist with its
	// TTL, and an index with doc_value on the fields analysis uses. It
	// returns what it changed (or, with dryRun, would change); a second call
	// changes nothing.
	Ensure(ctx context.Context, d Destination, dryRun bool) (actions []string, err error)
}

// textToken is the SLS console's default tokenizer, without '.' so that IP
// addresses stay whole.
var textToken = []string{",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r"}

func text() sls.IndexKey    { return sls.IndexKey{Type: "text", Token: textToken, DocValue: true} }
func long() sls.IndexKey    { return sls.IndexKey{Type: "long", DocValue: true} }
func double() sls.IndexKey  { return sls.IndexKey{Type: "double", DocValue: true} }
func timeKey() sls.IndexKey { return text() } // format UNVERIFIED (reference §6): text indexes seconds and ISO alike

// IndexKeys are the fields, per kind of log, that get an index with
// doc_value (what SQL analysis needs).
func IndexKeys(k mapping.Kind) map[string]sls.IndexKey {
	if k == mapping.KindNAT {
		return map[string]sls.IndexKey{
			"pub_ip": text(), "pri_ip": text(), "nat_ip": text(),
			"nat_port": long(), "pub_port": long(), "pri_port": long(), "protocol": long(),
			"bytes_from_vpc": long(), "bytes_from_pub": long(),
			"start_time": timeKey(), "end_time": timeKey(),
			"instance": text(), "vpc_id": text(),
			// what Terraform indexed before onboard owned the index
			"pkts_from_vpc": long(), "pkts_from_pub": long(), "intstance": text(), "portocol": long(),
			// shipped from member accounts and other regions
			"account_id": text(), "region": text(),
		}
	}
	keys := map[string]sls.IndexKey{
		"client_ip": text(), "client_port": long(), "vip_addr": text(), "slb_vport": long(),
		"upstream_addr": text(), "status": long(), "time": timeKey(), "request_time": double(),
		"http_x_forwarded_for": text(), "host": text(), "request_uri": text(),
		"upstream_status": text(), "upstream_response_time": text(), "request_method": text(),
		"account_id": text(), "region": text(),
	}
	if k == mapping.KindALB {
		keys["app_lb_id"] = text()
	} else {
		keys["slbid"] = text()
	}
	return keys
}

// SLS is the production Logs: aliyun-log-go-sdk signed with one account's
// credentials.
type SLS struct {
	Creds fcenv.Credentials
}

// Ensure implements Logs.
func (s *SLS) Ensure(ctx context.Context, d Destination, dryRun bool) ([]string, error) {
	c := slslog.NewClient(d.Endpoint, s.Creds, slslog.RetryBudget(ctx))
	defer c.Close()
	var actions []string
	act := func(format string, args ...any) { actions = append(actions, fmt.Sprintf(format, args...)) }

	exists, err := c.CheckProjectExist(d.Project)
	if err != nil {
		return actions, fmt.Errorf("sls project %s: %w", d.Project, err)
	}
	if !exists {
		act("create project %s", d.Project)
		if dryRun {
			act("create logstore %s ttl %dd", d, d.TTL)
			act("create index on %s (%d fields with doc_value)", d, len(IndexKeys(d.Kind)))
			return actions, nil
		}
		if _, err := c.CreateProject(d.Project, "ndrtrace: NAT session logs and load-balancer access logs"); err != nil && !isCode(err, "ProjectAlreadyExist") {
			return actions, fmt.Errorf("create sls project %s: %w", d.Project, err)
		}
	}

	ls, err := c.GetLogStore(d.Project, d.Logstore)
	switch {
	case isCode(err, "LogStoreNotExist"):
		act("create logstore %s ttl %dd", d, d.TTL)
		if !dryRun {
			err := c.CreateLogStoreV2(d.Project, &sls.LogStore{
				Name: d.Logstore, TTL: d.TTL, ShardCount: 2, AutoSplit: true, MaxSplitShard: 64, AppendMeta: true,
			})
			if err != nil && !isCode(err, "LogStoreAlreadyExist") {
				return actions, fmt.Errorf("create logstore %s: %w", d, err)
			}
		}
	case err != nil:
		return actions, fmt.Errorf("get logstore %s: %w", d, err)
	case ls.TTL != d.TTL:
		act("update logstore %s ttl %dd -> %dd", d, ls.TTL, d.TTL)
		if !dryRun {
			ls.TTL = d.TTL
			if err := c.UpdateLogStoreV2(d.Project, ls); err != nil {
				return actions, fmt.Errorf("update ttl of logstore %s: %w", d, err)
			}
		}
	}

	want := IndexKeys(d.Kind)
	var idx *sls.Index
	if ls != nil || !dryRun {
		idx, err = getIndex(ctx, c, d)
		if err != nil {
			return actions, err
		}
	}
	if idx == nil {
		act("create index on %s (%d fields with doc_value)", d, len(want))
		if !dryRun {
			if err := c.CreateIndex(d.Project, d.Logstore, sls.Index{Keys: want}); err != nil {
				return actions, fmt.Errorf("create index on %s: %w", d, err)
			}
		}
		return actions, nil
	}
	// Keep whatever else the index holds; add our fields, or doc_value on
	// them.
	var changed []string
	if idx.Keys == nil {
		idx.Keys = map[string]sls.IndexKey{}
	}
	for name, k := range want {
		have, ok := idx.Keys[name]
		switch {
		case !ok:
			idx.Keys[name] = k
		case have.Type != k.Type && (k.Type == "long" || k.Type == "double"):
			// A number indexed as text cannot be summed in SQL.
			idx.Keys[name] = k
		case !have.DocValue:
			have.DocValue = true
			idx.Keys[name] = have
		default:
			continue
		}
		changed = append(changed, name)
	}
	if len(changed) == 0 {
		return actions, nil
	}
	sort.Strings(changed)
	act("update index on %s: typed, with doc_value, %s", d, strings.Join(changed, ", "))
	if !dryRun {
		if err := c.UpdateIndex(d.Project, d.Logstore, *idx); err != nil {
			return actions, fmt.Errorf("update index on %s: %w", d, err)
		}
	}
	return actions, nil
}

// getIndex returns the index, nil when there is none. A logstore just
// created may not be visible to the index API for a moment: that is
// retried briefly.
func getIndex(ctx context.Context, c sls.ClientInterface, d Destination) (*sls.Index, error) {
	for attempt := 0; ; attempt++ {
		idx, err := c.GetIndex(d.Project, d.Logstore)
		switch {
		case err == nil:
			return idx, nil
		case isCode(err, "IndexConfigNotExist"):
			return nil, nil
		case isCode(err, "LogStoreNotExist") && attempt < 3:
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Second):
			}
		default:
			return nil, fmt.Errorf("get index of %s: %w", d, err)
		}
	}
}

func isCode(err error, code string) bool {
	var e *sls.Error
	return errors.As(err, &e) && e.Code == code
}
