package main

import (
	"bytes"
	"context"
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
// the investigation names the surging instance and the peak minute, every
// alert answered untraced gets its late result (results logstore and
// callback), the correction arrives, and the member account's trace names
// its account and region.
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

	// The investigation: from the destination and a range alone.
	if want := f.t0.Add(5 * time.Minute); !f.inv.peak.Equal(want) {
		t.Errorf("peak minute %s, want %s", f.inv.peak, want)
	}
	if top := f.inv.top; top.PrivateIP != culprit || top.InstanceID != instanceID(21) || top.VPCID != vpc {
		t.Errorf("top host %+v, want %s (%s)", top, culprit, instanceID(21))
	}
	if f.inv.hosts < 2 {
		t.Errorf("%d hosts: the other instances using the service are missing", f.inv.hosts)
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
		final, private := string(r.first.Status), endpointOf(r.first)
		if r.late != nil {
			final, private = r.late["status"], r.late["private_ip"]+":"+r.late["private_port"]
		}
		switch len(c.sessions) {
		case 1:
			if final != "traced" || !strings.HasPrefix(private, c.sessions[0].host+":") {
				t.Errorf("%s: ends %s %s, want traced to %s", r.name, final, private, c.sessions[0].host)
			}
		default:
			if final != "ambiguous" || r.late["supersedes"] != "traced" || !strings.Contains(r.late["candidates"], c.sessions[1].host) {
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
