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

// A page is what one pull returns: at most pageGroups log groups, and about
// pageBytes once decompressed. A log group may hold up to 5 MB (maxGroup),
// so 100 of them could be 500 MB, past an ingest function's heap cap and
// near its memory: the first pull of a range asks for as many groups as
// pageBytes holds at that size, and each later one for as many as it holds
// at the mean size of the page before (NAT and LB groups are far smaller:
// 100 groups of 1,000 records are ~25 MB).
const (
	pageGroups = 100
	pageBytes  = 32 << 20
	maxGroup   = 5 << 20
	firstCount = pageBytes / maxGroup
)

// nextCount is how many groups to ask for after a page of groups that took
// size bytes decompressed.
func nextCount(size, groups int) int {
	if groups == 0 || size <= 0 {
		return pageGroups
	}
	return max(1, min(pageGroups, pageBytes/max(size/groups, 1)))
}

// A Reader pulls a trigger's cursor range page by page and hands each page's
// groups to fn, in order.
type Reader func(ctx context.Context, c sls.ClientInterface, r Range, fn func(page []Group) error) (groups int, err error)

// Read pulls the range page by page (up to 100 log groups, ~32 MB) through the
// SDK's raw call (GetLogsBytesWithQuery: the SDK signs, sends, decompresses
// and reads the cursor headers) and hands fn groups that walk the returned
// bytes in place (see Group). The next page is pulled while fn works
// through the current one, so the round trip to SLS overlaps the caller's
// work.
func Read(ctx context.Context, c sls.ClientInterface, r Range, fn func(page []Group) error) (int, error) {
	return readPages(ctx, r, func(req *sls.PullLogRequest) ([]Group, string, int, error) {
		out, plm, err := c.GetLogsBytesWithQuery(req)
		if err != nil {
			return nil, "", 0, err
		}
		groups, err := Groups(out, readLastCursor(plm))
		return groups, plm.NextCursor, len(out), err
	}, fn)
}

// ReadDecoded is Read through the SDK's PullLogsWithQuery, which decodes
// each page into the SDK's structs (a Log and two strings per field). It is
// what ingest read before Read, kept to prove both give the same records and
// as the SDK's ceiling in make bench.
func ReadDecoded(ctx context.Context, c sls.ClientInterface, r Range, fn func(page []Group) error) (int, error) {
	return readPages(ctx, r, func(req *sls.PullLogRequest) ([]Group, string, int, error) {
		gl, plm, err := c.PullLogsWithQuery(req)
		if err != nil {
			return nil, "", 0, err
		}
		groups := make([]Group, len(gl.LogGroups))
		for i, lg := range gl.LogGroups {
			groups[i] = FromSDK(lg)
		}
		return groups, plm.NextCursor, plm.RawSize, nil
	}, fn)
}

// readPages runs the page loop of a Reader over pull, prefetching the next
// page while fn works.
func readPages(ctx context.Context, r Range, pull func(*sls.PullLogRequest) ([]Group, string, int, error), fn func(page []Group) error) (groups int, err error) {
	type page struct {
		groups []Group
		next   string
		size   int // decompressed bytes
		last   bool
		err    error
	}
	get := func(cursor string, count int) page {
		if err := ctx.Err(); err != nil {
			return page{err: fmt.Errorf("read %s: stopped at cursor %s: %w", r, cursor, err)}
		}
		gs, next, size, err := pull(&sls.PullLogRequest{
			Project: r.Project, Logstore: r.Logstore, ShardID: r.Shard,
			Cursor: cursor, EndCursor: r.End, LogGroupMaxCount: count,
		})
		if err != nil {
			return page{err: fmt.Errorf("pull %s at cursor %s: %w", r, cursor, err)}
		}
		// The shard has nothing more in this range when the cursor does
		// not move, reaches the end, or the page is empty.
		last := next == cursor || next == "" || next == r.End || len(gs) == 0
		return page{groups: gs, next: next, size: size, last: last}
	}
	if r.Begin == r.End {
		return 0, nil
	}
	cur := get(r.Begin, firstCount)
	for {
		if cur.err != nil {
			return groups, cur.err
		}
		var ahead chan page
		if !cur.last {
			ahead = make(chan page, 1)
			go func(cursor string, count int) { ahead <- get(cursor, count) }(cur.next, nextCount(cur.size, len(cur.groups)))
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
