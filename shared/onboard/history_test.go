package onboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// Each run records which instance holds each private address; an address
// that moves between runs names its old holder before and its new one
// after.
func TestRunRecordsAddressHolders(t *testing.T) {
	g := newRig(t, nil)
	created := g.now.Add(-48 * time.Hour)
	eniA := cloud.ENI{ID: "eni-a", InstanceID: "i-a", VPCID: "vpc-1", PrivateIP: "172.16.0.5", Type: "Primary",
		Addresses: []string{"172.16.0.5", "172.16.0.6"}, Created: created}
	eniB := cloud.ENI{ID: "eni-b", InstanceID: "i-b", VPCID: "vpc-1", PrivateIP: "172.16.0.9", Type: "Secondary",
		Addresses: []string{"172.16.0.9"}}
	bad := cloud.ENI{ID: "eni bad", VPCID: "vpc-1", Addresses: []string{"172.16.0.7"}}
	g.cl.enis = []cloud.ENI{eniA, eniB, bad}
	first := g.now
	if r := g.run(t, false); r.Addresses != 3 || r.HoldersChanged != 3 || r.HoldersError != "" {
		t.Fatalf("first run: %+v", r)
	}
	// .6 moves from A to B.
	eniA.Addresses = []string{"172.16.0.5"}
	eniB.Addresses = []string{"172.16.0.9", "172.16.0.6"}
	g.cl.enis = []cloud.ENI{eniA, eniB}
	second := g.now
	if r := g.run(t, false); r.Addresses != 3 || r.HoldersChanged != 1 {
		t.Fatalf("second run: %+v", r)
	}
	dry := g.now
	g.cl.enis = nil
	if r := g.run(t, true); r.Addresses != 0 || r.HoldersChanged != 0 {
		t.Fatalf("dry run: %+v", r)
	}

	res := &inventory.Resolver{Inv: g.inv}
	for _, tt := range []struct {
		ip   string
		at   time.Time
		want string
	}{
		{"172.16.0.5", created.Add(time.Hour), "i-a"}, // its primary address since the ENI's creation
		{"172.16.0.6", created.Add(time.Hour), ""},    // a secondary one only from the scan that saw it
		{"172.16.0.6", first, "i-a"},
		{"172.16.0.6", second, "i-b"},
		{"172.16.0.6", dry, "i-b"}, // a dry run records nothing
		{"172.16.0.7", second, ""},
	} {
		ns := []trace.Naming{{Asset: &alert.Asset{PrivateIP: tt.ip, VPCID: "vpc-1"}, At: tt.at}}
		res.Name(context.Background(), ns)
		if ns[0].Asset.InstanceID != tt.want {
			t.Errorf("%s at %s: %q (%s), want %q", tt.ip, tt.at, ns[0].Asset.InstanceID, ns[0].Why, tt.want)
		}
	}

	g.cl.fail = context.DeadlineExceeded
	if s, err := g.r.Run(ctx, false); err != nil || s.Results[0].Status != "failed" {
		t.Fatalf("a failing cloud: %+v %v", s, err)
	}
}
