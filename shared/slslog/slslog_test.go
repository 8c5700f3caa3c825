package slslog_test

import (
	"context"
	"strconv"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
)

// emulator starts an SLS emulator with n one-record log groups in shard 0
// and returns a client through it and the range they occupy.
func emulator(t *testing.T, n int) (sls.ClientInterface, *slsemu.Server, slslog.Range) {
	t.Helper()
	srv := slsemu.New(slsemu.Options{})
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.CreateProject("p")
	srv.CreateLogstore("p", "ls", 1, 1)
	r := slslog.Range{Project: "p", Logstore: "ls"}
	for i := 0; i < n; i++ {
		k, v, ts := "i", strconv.Itoa(i), uint32(1738738800)
		b, e, err := srv.Append("p", "ls", 0, &sls.LogGroup{Logs: []*sls.Log{{Time: &ts, Contents: []*sls.LogContent{{Key: &k, Value: &v}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			r.Begin = b
		}
		r.End = e
	}
	c := sls.CreateNormalInterfaceV2(srv.Endpoint(), sls.NewStaticCredentialsProvider("ak", "sk", ""))
	c.SetHTTPClient(srv.HTTPClient())
	c.SetRetryTimeout(2e9)
	return c, srv, r
}

func TestReadPagesInOrder(t *testing.T) {
	for _, n := range []int{0, 1, 100, 250} {
		c, _, r := emulator(t, n)
		if n == 0 {
			r.Begin, r.End = "MTAw", "MTAw" // an empty range reads nothing
		}
		var got []string
		groups, err := slslog.Read(context.Background(), c, r, func(page []*sls.LogGroup) error {
			for _, lg := range page {
				got = append(got, lg.Logs[0].Contents[0].GetValue())
			}
			return nil
		})
		if err != nil || groups != n || len(got) != n {
			t.Fatalf("n=%d: %d groups, %d seen, %v", n, groups, len(got), err)
		}
		for i, v := range got {
			if v != strconv.Itoa(i) {
				t.Fatalf("n=%d: group %d is %s", n, i, v)
			}
		}
	}
}

func TestReadFailsOnAPullError(t *testing.T) {
	c, srv, r := emulator(t, 250)
	seen := 0
	_, err := slslog.Read(context.Background(), c, r, func([]*sls.LogGroup) error {
		if seen++; seen == 1 {
			srv.FailNext("p", "ls", 1, 400, "InvalidCursor") // the next page's pull
		}
		return nil
	})
	if err == nil {
		t.Fatal("a failed pull did not fail the read")
	}
}
