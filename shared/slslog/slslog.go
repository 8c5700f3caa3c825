// Package slslog talks to Simple Log Service with aliyun-log-go-sdk: it reads
// a trigger's cursor range of one shard and writes log groups.
package slslog

import (
	"context"
	"fmt"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

// NewClient returns an SDK client signed with cred. The SDK retries failed
// requests internally; retry bounds that, so that a failure comes back as an
// error while the invocation still has time to report it.
func NewClient(endpoint string, cred fcenv.Credentials, retry time.Duration) sls.ClientInterface {
	c := sls.CreateNormalInterfaceV2(endpoint, sls.NewStaticCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken))
	c.SetRetryTimeout(retry)
	return c
}

// RetryBudget is how long the SDK may retry one request within ctx: a third
// of what is left, at most 20s, at least 1s.
func RetryBudget(ctx context.Context) time.Duration {
	d := 20 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/3)
	}
	return max(d, time.Second)
}

// Range is the cursor range [Begin, End) of one shard, as an SLS trigger
// hands it over.
type Range struct {
	Project, Logstore string
	Shard             int
	Begin, End        string
}

func (r Range) String() string {
	return fmt.Sprintf("%s/%s shard %d [%s, %s)", r.Project, r.Logstore, r.Shard, r.Begin, r.End)
}

// pageGroups is how many log groups one pull returns at most. Groups hold
// up to thousands of records; 100 keeps a page to a few MB.
const pageGroups = 100

// A Reader pulls a trigger's cursor range page by page and hands each page's
// groups to fn, in order.
type Reader func(ctx context.Context, c sls.ClientInterface, r Range, fn func(page []Group) error) (groups int, err error)

// Read pulls the range page by page (up to 100 log groups) through the
// SDK's raw call (GetLogsBytesWithQuery: the SDK signs, sends, decompresses
// and reads the cursor headers) and hands fn groups that walk the returned
// bytes in place (see Group). The next page is pulled while fn works
// through the current one, so the round trip to SLS overlaps the caller's
// work.
func Read(ctx context.Context, c sls.ClientInterface, r Range, fn func(page []Group) error) (int, error) {
	return readPages(ctx, r, func(req *sls.PullLogRequest) ([]Group, string, error) {
		out, plm, err := c.GetLogsBytesWithQuery(req)
		if err != nil {
			return nil, "", err
		}
		groups, err := Groups(out, readLastCursor(plm))
		return groups, plm.NextCursor, err
	}, fn)
}

// ReadDecoded is Read through the SDK's PullLogsWithQuery, which decodes
// each page into the SDK's structs (a Log and two strings per field). It is
// what ingest read before Read, kept to prove both give the same records and
// as the SDK's ceiling in make bench.
func ReadDecoded(ctx context.Context, c sls.ClientInterface, r Range, fn func(page []Group) error) (int, error) {
	return readPages(ctx, r, func(req *sls.PullLogRequest) ([]Group, string, error) {
		gl, plm, err := c.PullLogsWithQuery(req)
		if err != nil {
			return nil, "", err
		}
		groups := make([]Group, len(gl.LogGroups))
		for i, lg := range gl.LogGroups {
			groups[i] = FromSDK(lg)
		}
		return groups, plm.NextCursor, nil
	}, fn)
}

// readPages runs the page loop of a Reader over pull, prefetching the next
// page while fn works.
func readPages(ctx context.Context, r Range, pull func(*sls.PullLogRequest) ([]Group, string, error), fn func(page []Group) error) (groups int, err error) {
	type page struct {
		groups []Group
		next   string
		last   bool
		err    error
	}
	get := func(cursor string) page {
		if err := ctx.Err(); err != nil {
			return page{err: fmt.Errorf("read %s: stopped at cursor %s: %w", r, cursor, err)}
		}
		gs, next, err := pull(&sls.PullLogRequest{
			Project: r.Project, Logstore: r.Logstore, ShardID: r.Shard,
			Cursor: cursor, EndCursor: r.End, LogGroupMaxCount: pageGroups,
		})
		if err != nil {
			return page{err: fmt.Errorf("pull %s at cursor %s: %w", r, cursor, err)}
		}
		// The shard has nothing more in this range when the cursor does
		// not move, reaches the end, or the page is empty.
		last := next == cursor || next == "" || next == r.End || len(gs) == 0
		return page{groups: gs, next: next, last: last}
	}
	if r.Begin == r.End {
		return 0, nil
	}
	cur := get(r.Begin)
	for {
		if cur.err != nil {
			return groups, cur.err
		}
		var ahead chan page
		if !cur.last {
			ahead = make(chan page, 1)
			go func(cursor string) { ahead <- get(cursor) }(cur.next)
		}
		groups += len(cur.groups)
		if err := fn(cur.groups); err != nil {
			if ahead != nil {
				<-ahead // do not leave the prefetch running past the call
			}
			return groups, err
		}
		if ahead == nil {
			return groups, nil
		}
		cur = <-ahead
	}
}

// Fields flattens a log's contents into dst (reused across calls) without
// copying strings.
func Fields(dst []mapping.Field, l *sls.Log) []mapping.Field {
	dst = dst[:0]
	for _, c := range l.Contents {
		if c == nil || c.Key == nil || c.Value == nil {
			continue
		}
		dst = append(dst, mapping.Field{Key: *c.Key, Value: *c.Value})
	}
	return dst
}
