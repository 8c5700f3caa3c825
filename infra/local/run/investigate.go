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
// EIP "around" a time. investigate is given the destination and half an
// hour around that time, nothing else, and finds the minute and the host.

// invFacts is what the investigation found.
type invFacts struct {
	peak      time.Time // the peak minute
	top       investigate.Host
	hosts     int
	chartPath string
}

// around is the time the third party gives: the surge's minutes, rounded
// to five as a person would say it.
func (d *demo) around() time.Time { return d.t0.Add(5 * time.Minute).Round(5 * time.Minute) }

func (d *demo) investigate(ctx context.Context) (invFacts, error) {
	var f invFacts
	fn, err := d.lc.Function(ctx, "investigate", map[string]string{
		"NAT_LOGS_ENDPOINT": cloud.SLSEndpoint, "NAT_LOGS_PROJECT": project, "NAT_LOGSTORES": natLS,
	}, func(f *fcemu.Function) { f.Timeout = 60 * time.Second })
	if err != nil {
		return f, err
	}
	from, to := d.around().Add(-15*time.Minute), d.around().Add(15*time.Minute)
	body, _ := json.Marshal(map[string]any{"dst_ip": thirdPty, "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339), "top": 5})
	fmt.Fprintf(d.out, "The operator of %s reports a surge from our EIP %s around %s and blacklists it.\n", thirdPty, eip, d.around().Format("15:04"))
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
	f.top, f.hosts = r.Hosts[0], len(r.Hosts)

	if err := os.MkdirAll(d.chartDir, 0o755); err != nil {
		return f, err
	}
	f.chartPath = filepath.Join(d.chartDir, "investigate-surge.png")
	if err := os.WriteFile(f.chartPath, r.Chart.PNG, 0o644); err != nil {
		return f, err
	}
	fmt.Fprintf(d.out, "\npeak %s: %s from %s (%s) sent %s of the range's %s. Chart (%dx%d, minutes stacked by host): %s\n",
		clock(r.PeakMinute), f.top.PrivateIP, orNone(f.top.InstanceID), f.top.VPCID, human(f.top.BytesFromVPC), human(r.Total.BytesFromVPC),
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
