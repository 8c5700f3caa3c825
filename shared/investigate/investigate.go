package investigate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// Source is where the NAT session logs are: the central logstore(s) that
// member accounts' logs are shipped into.
type Source struct {
	Endpoint, Project string
	Logstores         []string
}

// Namer names the instances behind private addresses at given times
// (inventory.Resolver), returning by ctx's deadline.
type Namer interface {
	Name(ctx context.Context, ns []trace.Naming)
}

// Investigator runs investigations.
type Investigator struct {
	Source Source
	// Book maps the egress EIP to the address the logs write as nat_ip
	// (its private twin when the gateway is in NAT mode). Optional.
	Book egress.Book
	// Namer names instances. Optional; a failure leaves instance_id empty.
	Namer Namer
	// NameTimeout bounds naming all hosts (default 5 s): a slow cloud API
	// costs the answer its instance ids, never the answer.
	NameTimeout time.Duration
	// Client opens the SLS client; nil: aliyun-log-go-sdk signed with the
	// invocation's STS credentials.
	Client func(ctx context.Context, endpoint string) (sls.ClientInterface, error)
}

// Minute is the traffic of one minute towards the destination.
type Minute struct {
	Minute       string `json:"minute"` // RFC 3339, UTC
	BytesFromVPC int64  `json:"bytes_from_vpc"`
	BytesFromPub int64  `json:"bytes_from_pub"`
	Sessions     int64  `json:"sessions"`
	unix         int64
}

// Host is one private host that sent traffic to the destination.
type Host struct {
	PrivateIP    string          `json:"private_ip"`
	VPCID        string          `json:"vpc_id,omitempty"`
	InstanceID   string          `json:"instance_id"`
	AccountID    string          `json:"account_id,omitempty"`
	Region       string          `json:"region,omitempty"`
	BytesFromVPC int64           `json:"bytes_from_vpc"`
	Sessions     int64           `json:"sessions"`
	PeakMinute   string          `json:"peak_minute,omitempty"`
	series       map[int64]int64 // minute -> bytes_from_vpc
}

// Result is an investigation's answer.
type Result struct {
	DstIP      string   `json:"dst_ip"`
	DstPort    int      `json:"dst_port,omitempty"`
	EgressIP   string   `json:"egress_ip,omitempty"`
	NATIPs     []string `json:"nat_ips,omitempty"` // the egress as the logs write it
	From       string   `json:"from"`
	To         string   `json:"to"`
	Minutes    []Minute `json:"minutes"`
	Hosts      []Host   `json:"hosts"`
	PeakMinute string   `json:"peak_minute,omitempty"`
	Total      Minute   `json:"total"`
	Logstores  []string `json:"logstores"`
	// Complete is false when SLS could not scan the whole range in time:
	// the figures are then a lower bound.
	Complete bool   `json:"complete"`
	Chart    *Chart `json:"chart,omitempty"`
}

func (inv *Investigator) client(ctx context.Context) (sls.ClientInterface, error) {
	if inv.Client != nil {
		return inv.Client(ctx, inv.Source.Endpoint)
	}
	cred, err := fcenv.CredentialsFrom(ctx)
	if err != nil {
		return nil, err
	}
	return slslog.NewClient(inv.Source.Endpoint, cred, slslog.RetryBudget(ctx)), nil
}

// Run investigates. An error is an infrastructure failure (SLS, Redis):
// the request itself was valid.
func (inv *Investigator) Run(ctx context.Context, req Request) (*Result, error) {
	if len(inv.Source.Logstores) == 0 || inv.Source.Project == "" || inv.Source.Endpoint == "" {
		return nil, errors.New("no NAT session logstore configured (NAT_LOGS_ENDPOINT, NAT_LOGS_PROJECT, NAT_LOGSTORES)")
	}
	f := filter{dst: req.DstIP, port: req.DstPort}
	res := &Result{
		DstIP: req.DstIP.String(), DstPort: int(req.DstPort),
		From: req.From.Format(time.RFC3339), To: req.To.Format(time.RFC3339),
		Minutes: []Minute{}, Hosts: []Host{}, Logstores: inv.Source.Logstores, Complete: true,
	}
	if req.EgressIP.IsValid() {
		res.EgressIP = req.EgressIP.String()
		nat, err := inv.natIPs(ctx, req.EgressIP)
		if err != nil {
			return nil, err
		}
		f.natIPs = nat
		for _, a := range nat {
			res.NATIPs = append(res.NATIPs, a.String())
		}
	}
	c, err := inv.client(ctx)
	if err != nil {
		return nil, fmt.Errorf("sls client: %w", err)
	}
	defer c.Close()

	minutes := map[int64]*Minute{}
	hosts := map[hostKey]*Host{}
	for _, ls := range inv.Source.Logstores {
		rows, complete, err := inv.query(ctx, c, ls, req, minutesSQL(f))
		if err != nil {
			return nil, err
		}
		res.Complete = res.Complete && complete
		for _, row := range rows {
			m, ok := intField(row, "minute")
			if !ok {
				continue
			}
			mm := minutes[m]
			if mm == nil {
				mm = &Minute{unix: m, Minute: time.Unix(m, 0).UTC().Format(time.RFC3339)}
				minutes[m] = mm
			}
			mm.BytesFromVPC += num(row, "bytes_from_vpc")
			mm.BytesFromPub += num(row, "bytes_from_pub")
			mm.Sessions += num(row, "sessions")
		}
		rows, complete, err = inv.query(ctx, c, ls, req, hostsSQL(f, req.Top))
		if err != nil {
			return nil, err
		}
		res.Complete = res.Complete && complete
		for _, row := range rows {
			k, ok := keyOf(row)
			if !ok {
				continue
			}
			h := hosts[k]
			if h == nil {
				h = &Host{PrivateIP: k.ip.String(), VPCID: k.vpc, AccountID: text(row, "account_id"), Region: text(row, "region"),
					series: map[int64]int64{}}
				hosts[k] = h
			}
			h.BytesFromVPC += num(row, "bytes_from_vpc")
			h.Sessions += num(row, "sessions")
		}
	}
	for _, m := range minutes {
		res.Minutes = append(res.Minutes, *m)
		res.Total.BytesFromVPC += m.BytesFromVPC
		res.Total.BytesFromPub += m.BytesFromPub
		res.Total.Sessions += m.Sessions
	}
	sort.Slice(res.Minutes, func(i, j int) bool { return res.Minutes[i].unix < res.Minutes[j].unix })
	if p := peak(res.Minutes); p >= 0 {
		res.PeakMinute = res.Minutes[p].Minute
	}

	top := make([]*Host, 0, len(hosts))
	for _, h := range hosts {
		top = append(top, h)
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].BytesFromVPC != top[j].BytesFromVPC {
			return top[i].BytesFromVPC > top[j].BytesFromVPC
		}
		return top[i].PrivateIP < top[j].PrivateIP
	})
	if len(top) > req.Top {
		top = top[:req.Top]
	}
	if len(top) > 0 {
		if err := inv.series(ctx, c, req, f, top, res); err != nil {
			return nil, err
		}
	}
	inv.name(ctx, top, req.From)
	for _, h := range top {
		res.Hosts = append(res.Hosts, *h)
	}
	return res, nil
}

// series fills the top hosts' per-minute traffic and peak minutes.
func (inv *Investigator) series(ctx context.Context, c sls.ClientInterface, req Request, f filter, top []*Host, res *Result) error {
	byKey := map[hostKey]*Host{}
	seen := map[netip.Addr]bool{}
	for _, h := range top {
		ip := netip.MustParseAddr(h.PrivateIP) // it came from a netip.Addr
		byKey[hostKey{ip, h.VPCID}] = h
		if !seen[ip] {
			seen[ip] = true
			f.srcHost = append(f.srcHost, ip)
		}
	}
	for _, ls := range inv.Source.Logstores {
		rows, complete, err := inv.query(ctx, c, ls, req, hostMinutesSQL(f, len(f.srcHost)))
		if err != nil {
			return err
		}
		res.Complete = res.Complete && complete
		for _, row := range rows {
			k, ok := keyOf(row)
			m, okm := intField(row, "minute")
			if h := byKey[k]; ok && okm && h != nil {
				h.series[m] += num(row, "bytes_from_vpc")
			}
		}
	}
	for _, h := range top {
		var best int64 = -1
		var at int64
		for m, b := range h.series {
			if b > best || b == best && m < at {
				best, at = b, m
			}
		}
		if best >= 0 {
			h.PeakMinute = time.Unix(at, 0).UTC().Format(time.RFC3339)
		}
	}
	return nil
}

// name fills instance ids (and account and region where the logs did not
// say): the instance that held each address at the host's peak minute.
func (inv *Investigator) name(ctx context.Context, hosts []*Host, from time.Time) {
	if inv.Namer == nil || len(hosts) == 0 {
		return
	}
	d := inv.NameTimeout
	if d <= 0 {
		d = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	assets := make([]alert.Asset, len(hosts))
	ns := make([]trace.Naming, len(hosts))
	for i, h := range hosts {
		assets[i] = alert.Asset{PrivateIP: h.PrivateIP, VPCID: h.VPCID, AccountID: h.AccountID, Region: h.Region}
		at := from
		if t, err := time.Parse(time.RFC3339, h.PeakMinute); err == nil {
			at = t
		}
		ns[i] = trace.Naming{Asset: &assets[i], At: at}
	}
	inv.Namer.Name(ctx, ns)
	for i, h := range hosts {
		h.InstanceID, h.AccountID, h.Region = assets[i].InstanceID, assets[i].AccountID, assets[i].Region
		if h.InstanceID == "" && ns[i].Why != "" {
			fcenv.Logger(ctx).Info("instance not named", "private_ip", h.PrivateIP, "vpc_id", h.VPCID, "why", ns[i].Why)
		}
	}
}

// natIPs lists the addresses the logs write as nat_ip for an egress EIP:
// the EIP, and its private twin for a gateway in NAT mode.
func (inv *Investigator) natIPs(ctx context.Context, eip netip.Addr) ([]netip.Addr, error) {
	out := []netip.Addr{eip}
	if inv.Book == nil {
		return out, nil
	}
	entries, err := inv.Book.Lookup(ctx, eip)
	if err != nil {
		return nil, fmt.Errorf("look up egress %s: %w", eip, err)
	}
	for _, e := range entries {
		if e.Kind == mapping.KindNAT && e.PrivateIP.IsValid() && e.PrivateIP != eip {
			out = append(out, e.PrivateIP)
		}
	}
	return out, nil
}

// maxIncomplete is how often a query SLS reports incomplete (its scan ran
// out of time) is repeated before the partial answer is taken.
const maxIncomplete = 3

// query runs one statement on one logstore over the request's range.
func (inv *Investigator) query(ctx context.Context, c sls.ClientInterface, logstore string, req Request, q string) ([]map[string]string, bool, error) {
	greq := &sls.GetLogRequest{From: req.From.Unix(), To: toUnix(req.To), Query: q}
	for attempt := 1; ; attempt++ {
		resp, err := c.GetLogsV3(inv.Source.Project, logstore, greq)
		if err != nil {
			return nil, false, fmt.Errorf("query %s/%s: %w", inv.Source.Project, logstore, err)
		}
		if resp.IsComplete() || attempt == maxIncomplete {
			return resp.Logs, resp.IsComplete(), nil
		}
		select {
		case <-ctx.Done():
			return resp.Logs, false, nil
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
}

// toUnix rounds an exclusive end up to whole seconds: SLS takes [from, to)
// in seconds.
func toUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

type hostKey struct {
	ip  netip.Addr
	vpc string
}

// keyOf reads a row's host: pri_ip must parse (it later goes back into SQL
// as a parsed address), vpc_id must look like an id.
func keyOf(row map[string]string) (hostKey, bool) {
	ip, err := netip.ParseAddr(row["pri_ip"])
	if err != nil || ip.Zone() != "" {
		return hostKey{}, false
	}
	vpc := text(row, "vpc_id")
	if vpc != "" && !mapping.ValidID(vpc) {
		vpc = ""
	}
	return hostKey{ip.Unmap(), vpc}, true
}

// text reads a string column; SLS renders NULL as "null".
func text(row map[string]string, k string) string {
	v := strings.TrimSpace(row[k])
	if v == "null" {
		return ""
	}
	return v
}

func intField(row map[string]string, k string) (int64, bool) {
	n, err := strconv.ParseInt(text(row, k), 10, 64)
	return n, err == nil
}

// num reads a sum or count: an integer, or a double for very large sums;
// NULL (no value) is 0.
func num(row map[string]string, k string) int64 {
	v := text(row, k)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return int64(f)
	}
	return 0
}

// peak is the index of the minute with the most bytes from the VPC (the
// earliest on a tie), -1 for none.
func peak(ms []Minute) int {
	p := -1
	for i, m := range ms {
		if p < 0 || m.BytesFromVPC > ms[p].BytesFromVPC {
			p = i
		}
	}
	return p
}
