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

// pageGroups is how many log groups one PullLogs returns at most. Groups hold
// up to thousands of records; 100 keeps a page to a few MB.
const pageGroups = 100

// Read pulls the range page by page (up to 100 log groups) and hands each
// page to fn. The next page is pulled while fn works through the current
// one, so the round trip to SLS and the SDK's decoding overlap the caller's
// work.
func Read(ctx context.Context, c sls.ClientInterface, r Range, fn func(page []*sls.LogGroup) error) (groups int, err error) {
	type page struct {
		gl     *sls.LogGroupList
		cursor string // the cursor the page was pulled at
		next   string
		last   bool
		err    error
	}
	pull := func(cursor string) page {
		if err := ctx.Err(); err != nil {
			return page{cursor: cursor, err: fmt.Errorf("read %s: stopped at cursor %s: %w", r, cursor, err)}
		}
		gl, meta, err := c.PullLogsWithQuery(&sls.PullLogRequest{
			Project: r.Project, Logstore: r.Logstore, ShardID: r.Shard,
			Cursor: cursor, EndCursor: r.End, LogGroupMaxCount: pageGroups,
		})
		if err != nil {
			return page{cursor: cursor, err: fmt.Errorf("pull %s at cursor %s: %w", r, cursor, err)}
		}
		// The shard has nothing more in this range when the cursor does
		// not move, reaches the end, or the page is empty.
		last := meta.NextCursor == cursor || meta.NextCursor == "" || meta.NextCursor == r.End || len(gl.LogGroups) == 0
		return page{gl: gl, cursor: cursor, next: meta.NextCursor, last: last}
	}
	if r.Begin == r.End {
		return 0, nil
	}
	cur := pull(r.Begin)
	for {
		if cur.err != nil {
			return groups, cur.err
		}
		var ahead chan page
		if !cur.last {
			ahead = make(chan page, 1)
			go func(cursor string) { ahead <- pull(cursor) }(cur.next)
		}
		groups += len(cur.gl.LogGroups)
		if err := fn(cur.gl.LogGroups); err != nil {
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
