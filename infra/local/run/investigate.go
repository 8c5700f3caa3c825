package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/investigate"
)

// The seed's investigation: a third party reports a surge from the shared
// EIP "around 15:00". investigate is given the destination and 15:00 ± 15
// min, nothing else, and finds the minute and the host. The surge happened
// at the most recent past 15:00 of the scenario's zone (yesterday's when
// today's is less than 20 minutes old), in that day's session logs; the
// instances' ENIs are older, so the address history onboarding keeps names
// who held each address then.

// invFacts is what the investigation found.
type invFacts struct {
	around    time.Time // the time the third party gave
	peak      time.Time // the peak minute
	hosts     []investigate.Host
	chartPath string
}

// around is the time the third party gives: the most recent 15:00 whose
// surge and quarter hour after it are past.
func (d *demo) around() time.Time {
	y, m, day := d.now.Date()
	t := time.Date(y, m, day, 15, 0, 0, 0, beijing)
	if d.now.Before(t.Add(20 * time.Minute)) {
		t = t.AddDate(0, 0, -1)
	}
	return t
}

// surgeLogs writes the EIP's session logs of around ± 15 min into the NAT
// logstore, one log group a minute, the culprit flooding the third party
// from 14:55 to 14:58. They are not ingested: the investigation reads SLS.
func (d *demo) surgeLogs() (int, error) {
	from, surge := d.around().Add(-15*time.Minute), d.around().Add(-5*time.Minute)
	n := 0
	for m := 0; m < 30; m++ {
		at := from.Add(time.Duration(m) * time.Minute)
		recs := d.traffic(at, int(at.Sub(surge)/time.Minute), false)
		if _, _, err := d.lc.PutGroup(project, natLS, natGroup(recs)); err != nil {
			return n, err
		}
		n += len(recs)
	}
	return n, nil
}

func (d *demo) investigate(ctx context.Context) (invFacts, error) {
	f := invFacts{around: d.around()}
	n, err := d.surgeLogs()
	if err != nil {
		return f, err
	}
	fn, err := d.lc.Function(ctx, "investigate", map[string]string{
		"NAT_LOGS_ENDPOINT": cloud.SLSEndpoint, "NAT_LOGS_PROJECT": project, "NAT_LOGSTORES": natLS,
	}, func(f *fcemu.Function) { f.Timeout = 60 * time.Second })
	if err != nil {
		return f, err
	}
	from, to := f.around.Add(-15*time.Minute), f.around.Add(15*time.Minute)
	body, _ := json.Marshal(map[string]any{"dst_ip": thirdPty, "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339), "top": 5})
	fmt.Fprintf(d.out, "%s's session logs of %s-%s are in %s/%s (%d records; the 50 instances' ENIs date from %s).\n",
		f.around.Format("2006-01-02"), from.Format("15:04"), to.Format("15:04"), project, natLS, n, d.now.Add(-3*24*time.Hour).Format("2006-01-02"))
	fmt.Fprintf(d.out, "The operator of %s reports a surge from our EIP %s around %s and blacklists it.\n", thirdPty, eip, f.around.Format("15:04 on 2006-01-02"))
	fmt.Fprintf(d.out, "investigate (compiled binary, SLS SQL on %s/%s) is asked: %s\n\n", project, natLS, body)
	res, err := fn.Invoke(ctx, body)
	if err != nil {
		return f, err
	}
	if res.Error != nil {
		return f, fmt.Errorf("investigate: %v", res.Error)
	}
	var r investigate.Result
	var bad investigate.ErrorAnswer
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		return f, err
	}
	if json.Unmarshal(res.Payload, &bad); bad.Status != "" {
		return f, fmt.Errorf("investigate answered %s: %s %s", bad.Status, bad.Field, bad.Reason)
	}

	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MINUTE\tBYTES FROM VPC\tBYTES FROM PUB\tSESSIONS\t\t")
	for _, m := range r.Minutes {
		mark := ""
		if m.Minute == r.PeakMinute {
			mark = "<- peak"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t\n", clock(m.Minute), human(m.BytesFromVPC), human(m.BytesFromPub), m.Sessions, mark)
	}
	tw.Flush()

	fmt.Fprintln(d.out)
	tw = tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOP HOST\tINSTANCE\tVPC\tACCOUNT / REGION\tBYTES FROM VPC\tSESSIONS\tPEAK")
	for _, h := range r.Hosts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s / %s\t%s\t%d\t%s\n", h.PrivateIP, orNone(h.InstanceID), h.VPCID, h.AccountID, h.Region, human(h.BytesFromVPC), h.Sessions, clock(h.PeakMinute))
	}
	tw.Flush()
	if r.PeakMinute == "" || len(r.Hosts) == 0 || r.Chart == nil {
		return f, fmt.Errorf("investigate found nothing: %s", res.Payload)
	}
	f.peak, _ = time.Parse(time.RFC3339, r.PeakMinute)
	f.hosts = r.Hosts
	top := r.Hosts[0]

	if err := os.MkdirAll(d.chartDir, 0o755); err != nil {
		return f, err
	}
	f.chartPath = filepath.Join(d.chartDir, "investigate-surge.png")
	if err := os.WriteFile(f.chartPath, r.Chart.PNG, 0o644); err != nil {
		return f, err
	}
	fmt.Fprintf(d.out, "\npeak %s: %s from %s (%s) sent %s of the range's %s. Chart (%dx%d, minutes stacked by host): %s\n",
		clock(r.PeakMinute), top.PrivateIP, orNone(top.InstanceID), top.VPCID, human(top.BytesFromVPC), human(r.Total.BytesFromVPC),
		r.Chart.Width, r.Chart.Height, f.chartPath)
	return f, nil
}

// clock shows an RFC 3339 minute on the scenario's clock.
func clock(rfc string) string {
	t, err := time.Parse(time.RFC3339, rfc)
	if err != nil {
		return "-"
	}
	return t.In(beijing).Format("15:04")
}

func human(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
