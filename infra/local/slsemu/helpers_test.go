package slsemu_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

// Credentials the tests' emulators accept.
const (
	testAK     = "LTAI-test-ak"
	testSecret = "test-secret"
	testToken  = "sts-token-1"
	testRegion = "cn-hangzhou"
	// A real-looking endpoint: behind the proxy nothing is resolved.
	testEndpoint = "http://cn-hangzhou.log.aliyuncs.com"
)

func startEmu(t testing.TB, opts slsemu.Options) *slsemu.Server {
	t.Helper()
	emu := slsemu.New(opts)
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() {
		if err := emu.Close(); err != nil {
			t.Errorf("close emulator: %v", err)
		}
	})
	return emu
}

type clientConfig struct {
	ak, secret, token string
	v4                bool
	dial              bool // reach the emulator with a custom dialer (origin-form) instead of a proxy
}

func defaultClientConfig() clientConfig {
	return clientConfig{ak: testAK, secret: testSecret, token: testToken}
}

// newClient builds a real SDK client routed to emu, the way a program under
// test would be configured.
func newClient(t testing.TB, emu *slsemu.Server, cfg clientConfig) sls.ClientInterface {
	t.Helper()
	c := sls.CreateNormalInterfaceV2(testEndpoint, sls.NewStaticCredentialsProvider(cfg.ak, cfg.secret, cfg.token))
	tr := &http.Transport{}
	if cfg.dial {
		addr := emu.Addr()
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	} else {
		proxy, err := url.Parse(emu.ProxyURL())
		if err != nil {
			t.Fatalf("proxy url: %v", err)
		}
		tr.Proxy = http.ProxyURL(proxy)
	}
	t.Cleanup(tr.CloseIdleConnections)
	c.SetHTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second})
	// Fail fast: the SDK otherwise retries for 90 s.
	c.SetRetryTimeout(3 * time.Second)
	// The SDK lazily defaults RequestTimeOut on every call, under a read
	// lock; set it up front or concurrent use of one client is a data race.
	c.(*sls.Client).RequestTimeOut = 10 * time.Second
	if cfg.v4 {
		c.SetAuthVersion(sls.AuthV4)
		c.SetRegion(testRegion)
	}
	return c
}

// slsCode returns the SLS error code and HTTP status of err, failing the
// test if err is not an *sls.Error.
func slsCode(t *testing.T, err error) (string, int32) {
	t.Helper()
	var se *sls.Error
	if !errors.As(err, &se) {
		t.Fatalf("want *sls.Error, got %T: %v", err, err)
	}
	return se.Code, se.HTTPCode
}

func wantSLSError(t *testing.T, err error, code string, status int32) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s (%d), got success", code, status)
	}
	gotCode, gotStatus := slsCode(t, err)
	if gotCode != code || gotStatus != status {
		t.Fatalf("want %s (%d), got %s (%d): %v", code, status, gotCode, gotStatus, err)
	}
}

// makeGroup builds a group whose logs carry a unique "id" content.
func makeGroup(prefix string, logs int) *sls.LogGroup {
	lg := &sls.LogGroup{Topic: proto.String("topic-" + prefix), Source: proto.String("10.0.0.1")}
	for i := range logs {
		lg.Logs = append(lg.Logs, &sls.Log{
			Time: proto.Uint32(1_700_000_000 + uint32(i)),
			Contents: []*sls.LogContent{
				{Key: proto.String("id"), Value: proto.String(fmt.Sprintf("%s-%d", prefix, i))},
				{Key: proto.String("msg"), Value: proto.String("hello world hello world hello world")},
			},
		})
	}
	lg.LogTags = []*sls.LogTag{{Key: proto.String("__tag__"), Value: proto.String(prefix)}}
	return lg
}

// logIDs lists the "id" contents of the groups, sorted.
func logIDs(groups []*sls.LogGroup) []string {
	var ids []string
	for _, g := range groups {
		for _, l := range g.Logs {
			for _, c := range l.Contents {
				if c.GetKey() == "id" {
					ids = append(ids, c.GetValue())
				}
			}
		}
	}
	sort.Strings(ids)
	return ids
}

// pullAll reads [begin, end) of a shard with the SDK, count groups per call,
// checking the cursor bookkeeping of every page.
func pullAll(t *testing.T, c sls.ClientInterface, project, logstore string, shard, count, compress int) []*sls.LogGroup {
	t.Helper()
	begin, err := c.GetCursor(project, logstore, shard, "begin")
	if err != nil {
		t.Fatalf("GetCursor begin: %v", err)
	}
	end, err := c.GetCursor(project, logstore, shard, "end")
	if err != nil {
		t.Fatalf("GetCursor end: %v", err)
	}
	var out []*sls.LogGroup
	cursor := begin
	for i := 0; cursor != end; i++ {
		if i > 10_000 {
			t.Fatalf("pull loop does not terminate (cursor %s, end %s)", cursor, end)
		}
		gl, meta, err := c.PullLogsWithQuery(&sls.PullLogRequest{
			Project: project, Logstore: logstore, ShardID: shard,
			Cursor: cursor, EndCursor: end, LogGroupMaxCount: count, CompressType: compress,
		})
		if err != nil {
			t.Fatalf("PullLogs(%s): %v", cursor, err)
		}
		if meta.Count != len(gl.LogGroups) || meta.Count == 0 || meta.Count > count {
			t.Fatalf("page of %d groups with x-log-count %d (max %d)", len(gl.LogGroups), meta.Count, count)
		}
		// The SDK derives per-group cursors from x-log-read-last-cursor;
		// they must continue exactly where this page started.
		if got := gl.LogGroups[0].GetCursor(); got != canonical(t, cursor) {
			t.Fatalf("first group cursor %s, want %s", got, cursor)
		}
		out = append(out, gl.LogGroups...)
		cursor = meta.NextCursor
	}
	return out
}

// canonical re-encodes a cursor with padding.
func canonical(t *testing.T, cursor string) string {
	t.Helper()
	n := decodeCursorForTest(t, cursor)
	return encodeCursorForTest(n)
}
