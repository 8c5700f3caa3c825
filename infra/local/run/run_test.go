package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/shared/alert"
)

// TestDemo runs make run's stories on the local cloud (a real
// redis-server, the compiled functions) and checks what each one must tell:
// the investigation of the surge around the last 15:00 names its peak minute
// and the instances, every alert answered untraced gets its late result
// (results logstore and callback) naming the instance, the correction
// arrives, and the member account's trace names its account and region.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	lc, err := cloud.Start(ctx, cloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	var out bytes.Buffer
	// One scenario minute = 1 s: trace waits 4 s, and the late records land
	// 3.5 s or more after that wait ends.
	f, err := runDemo(ctx, lc, &out, t.TempDir(), time.Second)
	defer func() {
		if t.Failed() {
			t.Log("\n" + out.String())
		}
	}()
	if err != nil {
		t.Fatal(err)
	}

	byName := map[string]row{}
	for _, r := range f.rows {
		byName[strings.SplitN(r.name, " (", 2)[0]] = r
	}
	if r := byName["surge to third party"]; r.status != "traced" || r.instance != instanceID(21) {
		t.Errorf("the surge alert: %+v", r)
	}

	// The investigation: from the destination and "15:00 ± 15 min" alone,
	// the most recent 15:00 (Asia/Shanghai) a quarter hour past when the
	// demo ran. Its surge peaks at 14:57, and every host is named with the
	// instance that held its address then, a day or so before onboarding.
	y, mo, day := f.now.In(beijing).Date()
	want := time.Date(y, mo, day, 14, 57, 0, 0, beijing)
	if f.now.Before(want.Add(23 * time.Minute)) {
		want = want.AddDate(0, 0, -1)
	}
	if !f.inv.peak.Equal(want) {
		t.Errorf("peak minute %s, want %s", f.inv.peak.In(beijing), want)
	}
	if len(f.inv.hosts) < 2 {
		t.Fatalf("%d hosts: the other instances using the service are missing", len(f.inv.hosts))
	}
	if top := f.inv.hosts[0]; top.PrivateIP != culprit || top.InstanceID != instanceID(21) || top.VPCID != vpc {
		t.Errorf("top host %+v, want %s (%s)", top, culprit, instanceID(21))
	}
	for _, h := range f.inv.hosts[1:] {
		if want := instanceOf(h.PrivateIP); want == "" || h.InstanceID != want {
			t.Errorf("host %s named %q, want %q", h.PrivateIP, h.InstanceID, want)
		}
	}
	b, err := os.ReadFile(f.inv.chartPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("chart %s: %v", f.inv.chartPath, err)
	}

	// Late results: each case ends with the right answer; every untraced
	// first answer got a late one, in the logstore and by callback.
	cases := lateCases()
	if len(f.late) != len(cases) {
		t.Fatalf("%d late rows, want %d", len(f.late), len(cases))
	}
	lateSeen := 0
	for i, r := range f.late {
		c := cases[i]
		if r.first.Status == alert.Untraced && (r.first.PendingUntil == "" || r.late == nil || r.callbacks == 0) {
			t.Errorf("%s: untraced, pending until %q, late %v, %d callbacks", r.name, r.first.PendingUntil, r.late, r.callbacks)
		}
		if r.late != nil {
			lateSeen++
			if r.late["resolved_at"] == "" || r.scen <= 0 {
				t.Errorf("%s: late result %v after %s", r.name, r.late, r.scen)
			}
		}
		final := string(r.first.Status)
		if r.late != nil {
			final = r.late["status"]
		}
		private, instance := r.final()
		switch len(c.sessions) {
		case 1:
			if host := c.sessions[0].host; final != "traced" || !strings.HasPrefix(private, host+":") || instance != instanceOf(host) {
				t.Errorf("%s: ends %s %s %s, want traced to %s (%s)", r.name, final, private, instance, host, instanceOf(host))
			}
		default:
			if host := c.sessions[1].host; final != "ambiguous" || r.late["supersedes"] != "traced" || !strings.Contains(private, host+":") || !strings.Contains(instance, instanceOf(host)) {
				t.Errorf("%s: ends %s %v, want a correction to ambiguous", r.name, final, r.late)
			}
		}
	}
	if lateSeen == 0 {
		t.Error("no late result at all")
	}

	// The member account's NAT gateway in another region.
	if len(f.member) != 1 {
		t.Fatalf("member rows: %+v", f.member)
	}
	if m := f.member[0]; m.status != "traced" || m.account != memberAcct || m.region != memberRegion || m.instance != "i-uf6member000025" {
		t.Errorf("member trace: %+v", m)
	}
}

// instanceOf is the instance whose primary address a host of the demo's VPC
// is; "" for another address.
func instanceOf(host string) string {
	var n int
	if _, err := fmt.Sscanf(host, "172.16.20.%d", &n); err != nil {
		return ""
	}
	return instanceID(n)
}
