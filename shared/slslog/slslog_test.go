package slslog_test

import (
	"context"
	"strconv"
	"strings"
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

func TestNextCount(t *testing.T) {
	tests := []struct {
		size, groups, want int
	}{
		{0, 0, slslog.PageGroups},                                // an empty page: nothing to go by
		{25 << 20, 100, slslog.PageGroups},                       // 250 KB groups: 131 fit, capped
		{10 << 20, 2, slslog.PageBytes / (5 << 20)},              // 5 MB groups, SLS's largest
		{1 << 20, 1, 32},                                         // 1 MB groups
		{100 << 20, 1, 1},                                        // larger than the budget: one at a time
		{slslog.PageBytes, slslog.PageGroups, slslog.PageGroups}, // at the budget
	}
	for _, tt := range tests {
		if got := slslog.NextCount(tt.size, tt.groups); got != tt.want {
			t.Errorf("NextCount(%d, %d) = %d, want %d", tt.size, tt.groups, got, tt.want)
		}
	}
	if slslog.FirstCount < 1 || slslog.FirstCount*(5<<20) > slslog.PageBytes {
		t.Errorf("the first pull asks for %d groups: up to %d MB of 5 MB groups", slslog.FirstCount, slslog.FirstCount*5)
	}
}

// Large groups are read in pages that stay near the byte budget, however
// many groups a pull could return; small ones in pages of PageGroups.
func TestPagesStayNearTheirByteBudget(t *testing.T) {
	const groupBytes = 1 << 20
	big := make([]*sls.LogGroup, 48)
	for i := range big {
		k, v, ts := "i", strconv.Itoa(i)+strings.Repeat("x", groupBytes), uint32(1738738800)
		big[i] = &sls.LogGroup{Logs: []*sls.Log{{Time: &ts, Contents: []*sls.LogContent{{Key: &k, Value: &v}}}}}
	}
	for name, read := range readers {
		c, _, r := emulatorWith(t, big)
		var pages []int
		n, err := read(context.Background(), c, r, func(page []slslog.Group) error {
			pages = append(pages, len(page))
			return nil
		})
		if err != nil || n != len(big) {
			t.Fatalf("%s: %d of %d groups, %v", name, n, len(big), err)
		}
		if pages[0] > slslog.FirstCount {
			t.Errorf("%s: first page of %d groups, want at most %d", name, pages[0], slslog.FirstCount)
		}
		for i, p := range pages {
			if p*groupBytes > slslog.PageBytes+groupBytes {
				t.Errorf("%s: page %d holds %d groups of 1 MB, over the %d MB budget", name, i, p, slslog.PageBytes>>20)
			}
		}
		if len(pages) < 2 || pages[1] <= pages[0] {
			t.Errorf("%s: pages %v: the second should grow to the budget", name, pages)
		}

		c, _, r = emulator(t, 3*slslog.PageGroups)
		widest := 0
		if _, err := read(context.Background(), c, r, func(page []slslog.Group) error {
			widest = max(widest, len(page))
			return nil
		}); err != nil || widest != slslog.PageGroups {
			t.Errorf("%s: small groups read in pages of at most %d, want %d (%v)", name, widest, slslog.PageGroups, err)
		}
	}
}
