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
	groups := make([]*sls.LogGroup, n)
	for i := range groups {
		k, v, ts := "i", strconv.Itoa(i), uint32(1738738800)
		groups[i] = &sls.LogGroup{Logs: []*sls.Log{{Time: &ts, Contents: []*sls.LogContent{{Key: &k, Value: &v}}}}}
	}
	return emulatorWith(t, groups)
}

// emulatorWith starts an SLS emulator holding groups in shard 0 of
// ndr-logs/mixed.
func emulatorWith(t *testing.T, groups []*sls.LogGroup) (sls.ClientInterface, *slsemu.Server, slslog.Range) {
	t.Helper()
	srv := slsemu.New(slsemu.Options{})
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	r := slslog.Range{Project: "ndr-logs", Logstore: "mixed"}
	srv.CreateProject(r.Project)
	srv.CreateLogstore(r.Project, r.Logstore, 1, 1)
	for i, lg := range groups {
		b, e, err := srv.Append(r.Project, r.Logstore, 0, lg)
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

var readers = map[string]slslog.Reader{"raw": slslog.Read, "decoded": slslog.ReadDecoded}

func TestReadPagesInOrder(t *testing.T) {
	for name, read := range readers {
		for _, n := range []int{0, 1, 100, 250} {
			c, _, r := emulator(t, n)
			if n == 0 {
				r.Begin, r.End = "MTAw", "MTAw" // an empty range reads nothing
			}
			var got []string
			groups, err := read(context.Background(), c, r, func(page []slslog.Group) error {
				for i := range page {
					logs := page[i].Logs()
					fields, _, ok := logs.Next(nil)
					if !ok {
						t.Fatalf("%s: group without its record: %v", name, logs.Err())
					}
					got = append(got, fields[0].Value)
				}
				return nil
			})
			if err != nil || groups != n || len(got) != n {
				t.Fatalf("%s n=%d: %d groups, %d seen, %v", name, n, groups, len(got), err)
			}
			for i, v := range got {
				if v != strconv.Itoa(i) {
					t.Fatalf("%s n=%d: group %d is %s", name, n, i, v)
				}
			}
		}
	}
}

func TestReadFailsOnAPullError(t *testing.T) {
	for name, read := range readers {
		c, srv, r := emulator(t, 250)
		seen := 0
		_, err := read(context.Background(), c, r, func([]slslog.Group) error {
			if seen++; seen == 1 {
				srv.FailNext(r.Project, r.Logstore, 1, 400, "InvalidCursor") // the next page's pull
			}
			return nil
		})
		if err == nil {
			t.Fatalf("%s: a failed pull did not fail the read", name)
		}
	}
}

// Both reads are Readers. Asserted here, not in the package: a package-level
// reference would link the pull calls into every binary that imports
// slslog (trace and onboard only write), and the RAM checks would rightly
// ask for log:GetCursorOrData there.
var (
	_ slslog.Reader = slslog.Read
	_ slslog.Reader = slslog.ReadDecoded
)
