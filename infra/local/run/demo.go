package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
)

// The scenario, after the session-log investigation ndrtrace replaces: an
// Internet NAT gateway whose EIP 50 ECS instances share. The traces' clock
// starts a minute after onboarding (coverage begins when logging is
// enabled: earlier traffic is out of scope); its first eight minutes of logs
// are written at once and the alerts traced after them (parts 2-3), five
// minutes in one instance floods a third-party service; then log delivery is
// replayed as it happens (part 5). The investigation (part 4) is the seed's:
// a surge around the most recent past 15:00, found in that day's logs.
const (
	project   = "ndr-logs"
	natLS     = "nat-sessions"
	albLS     = "alb-access"
	clbLS     = "clb-access"
	resultsLS = "trace-results"
	thirdPty  = "47.110.22.157"
	culprit   = "172.16.20.21"
)

var (
	// beijing is the scenario's time zone, Asia/Shanghai's (the seed's):
	// UTC+8 without daylight saving since 1991, fixed here so that the demo
	// needs no time zone database.
	beijing = time.FixedZone("CST", 8*3600)
	remotes = []string{"106.11.22.203", "140.205.60.46", "203.119.169.31", "110.242.68.66", "39.156.66.10", "8.8.8.8", "1.1.1.1", thirdPty}
)

type demo struct {
	lc       *cloud.Cloud
	out      io.Writer
	chartDir string
	tick     time.Duration // one scenario minute while delivery is replayed
	cb       *callbackSink
	lateFn   *fcemu.Runtime // trace with the late part's short wait
	now      time.Time      // onboarding time
	t0       time.Time      // the scenario's first minute
	nat      *fcemu.Runtime
	trace    *fcemu.Runtime
	rng      *rand.Rand
	records  int
	batches  int
	// ports remembers the NAT port of a few sessions the alerts ask about.
	surgePort, reusePort, overlapPort, natModePort int
}

type row struct {
	name, tuple, status, endpoint, instance, wait, note string
	account, region                                     string
}

func newDemo(lc *cloud.Cloud, out io.Writer, chartDir string, tick time.Duration) *demo {
	now := time.Now().In(beijing)
	return &demo{lc: lc, out: out, chartDir: chartDir, tick: tick, rng: rand.New(rand.NewPCG(2025, 205)), now: now, t0: now.Truncate(time.Minute).Add(2 * time.Minute)}
}

func (d *demo) close() {
	if d.cb != nil {
		d.cb.close()
	}
}

// resultsEnv is what every function gets to record results and late
// results, and to POST late results to the demo's callback receiver.
func (d *demo) resultsEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"RESULTS_ENDPOINT": cloud.SLSEndpoint, "RESULTS_PROJECT": project, "RESULTS_LOGSTORE": resultsLS,
		"CALLBACK_URL": d.cb.url(), "WEBHOOK_SECRET": demoSecret,
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func (d *demo) setup(ctx context.Context) error {
	d.registerAssets()
	if err := d.runOnboard(ctx); err != nil {
		return err
	}
	d.lc.Logstore(project, resultsLS)
	var err error
	if d.cb, err = newCallbackSink(); err != nil {
		return err
	}
	timeout := func(f *fcemu.Function) { f.Timeout = 60 * time.Second }
	if d.nat, err = d.lc.Function(ctx, "nat-ingest", d.resultsEnv(nil), timeout); err != nil {
		return err
	}
	if d.trace, err = d.lc.Function(ctx, "trace", d.resultsEnv(map[string]string{"TRACE_MAX_WAIT": "5s"}), timeout); err != nil { // 90s in production
		return err
	}
	// Part 5's trace waits four scenario minutes of the replayed clock.
	d.lateFn, err = d.lc.Function(ctx, "trace", d.resultsEnv(map[string]string{"TRACE_MAX_WAIT": (4 * d.tick).String()}), timeout)
	return err
}

func (d *demo) session(natIP string, natPort int, pri string, priPort int, pub string, pubPort int, start time.Time, dur time.Duration, bytes int) map[string]string {
	return map[string]string{
		"instance": gateway, "vpc_id": vpc, "protocol": "6",
		"pri_ip": pri, "pri_port": strconv.Itoa(priPort), "nat_ip": natIP, "nat_port": strconv.Itoa(natPort),
		"pub_ip": pub, "pub_port": strconv.Itoa(pubPort),
		"bytes_from_vpc": strconv.Itoa(bytes), "pkts_from_vpc": strconv.Itoa(bytes/900 + 1),
		"bytes_from_pub": strconv.Itoa(bytes / 3), "pkts_from_pub": strconv.Itoa(bytes/2700 + 1),
		"start_time": strconv.FormatInt(start.Unix(), 10), "end_time": strconv.FormatInt(start.Add(dur).Unix(), 10),
	}
}

// minute builds one minute of part 2's session records: the EIP's traffic
// (the culprit's surge in minutes 3-6) and the sessions the alerts ask about.
func (d *demo) minute(m int) []map[string]string {
	at := d.t0.Add(time.Duration(m) * time.Minute)
	recs := d.traffic(at, m-3, m == 5)
	switch m {
	case 0: // port reuse: EIP port 61000 to 106.11.22.203:443, first one host...
		d.reusePort = 61000
		recs = append(recs, d.session(eip, 61000, "172.16.20.7", 41000, remotes[0], 443, at, 2*time.Minute, 5000))
		// ...and two hosts whose windows overlap on another port.
		d.overlapPort = 61001
		recs = append(recs, d.session(eip, 61001, "172.16.20.8", 41001, remotes[1], 443, at, 4*time.Minute, 5000),
			d.session(eip, 61001, "172.16.20.9", 41002, remotes[1], 443, at.Add(3*time.Minute), 4*time.Minute, 5000))
		// NAT mode: the second EIP appears as its private address.
		d.natModePort = 33333
		recs = append(recs, d.session(eipNATPri, 33333, "172.16.20.33", 45000, remotes[2], 443, at, 5*time.Minute, 7000))
	case 4: // ...then another host, later.
		recs = append(recs, d.session(eip, 61000, "172.16.20.44", 41003, remotes[0], 443, at, 2*time.Minute, 5000))
	}
	return recs
}

// traffic is a minute of the EIP's sessions from at: 400 to the usual
// services from the 50 instances, a few of other instances to the third
// party, and the culprit's flood when surge is one of its minutes (0-3).
// remember keeps the port of one surge session for the alerts.
func (d *demo) traffic(at time.Time, surge int, remember bool) []map[string]string {
	var recs []map[string]string
	for i := 0; i < 400; i++ {
		host := fmt.Sprintf("172.16.20.%d", 1+d.rng.IntN(50))
		remote := remotes[d.rng.IntN(len(remotes)-1)]
		recs = append(recs, d.session(eip, 1024+d.rng.IntN(64000), host, 30000+d.rng.IntN(30000), remote, 443,
			at.Add(time.Duration(d.rng.IntN(60))*time.Second), time.Duration(30+d.rng.IntN(570))*time.Second, 200+d.rng.IntN(50000)))
	}
	// The culprit floods the third-party service for four minutes, peaking
	// in the third (the seed's surge: 14:55-14:58, peak 14:57).
	if size, ok := surgeBytes[surge]; ok {
		for i := 0; i < 150; i++ {
			port := 20000 + surge*1000 + i
			if remember && i == 70 {
				d.surgePort = port
			}
			recs = append(recs, d.session(eip, port, culprit, 40000+i, thirdPty, 80, at.Add(time.Duration(i%60)*time.Second), 2*time.Minute, size))
		}
	}
	// Other instances use the service too, as every day.
	for i := 0; i < 6; i++ {
		host := fmt.Sprintf("172.16.20.%d", 1+d.rng.IntN(50))
		if host == culprit {
			host = "172.16.20.22"
		}
		recs = append(recs, d.session(eip, 1024+d.rng.IntN(64000), host, 30000+d.rng.IntN(30000), thirdPty, 80,
			at.Add(time.Duration(d.rng.IntN(60))*time.Second), time.Duration(5+d.rng.IntN(50))*time.Second, 20_000+d.rng.IntN(400_000)))
	}
	return recs
}

// ingestNAT writes eight minutes of session logs into the SLS emulator, one
// log group a minute, and has the compiled nat-ingest binary ingest each
// range as the SLS trigger would.
func (d *demo) ingestNAT(ctx context.Context) error {
	start := time.Now()
	mappings, rejected := 0, 0
	for m := 0; m < 8; m++ {
		recs := d.minute(m)
		begin, end, err := d.lc.PutGroup(project, natLS, natGroup(recs))
		if err != nil {
			return err
		}
		s, err := d.ingest(ctx, begin, end)
		if err != nil {
			return err
		}
		d.records += s.Records
		mappings += s.Mappings
		for _, n := range s.Rejected {
			rejected += n
		}
		d.batches++
	}
	fmt.Fprintf(d.out, "NAT gateways %s (EIP %s) and %s (EIP %s in NAT mode, logged as %s), 50 ECS instances in %s\n", gateway, eip, gateway2, eipNAT, eipNATPri, vpc)
	fmt.Fprintf(d.out, "ingested %d session records (%s-%s) in %d trigger invocations of nat-ingest: %d mappings, %d rejected, %s\n\n",
		d.records, d.t0.Format("15:04"), d.t0.Add(8*time.Minute).Format("15:04"), d.batches, mappings, rejected, time.Since(start).Round(time.Millisecond))
	return nil
}

// surgeBytes is what each of the culprit's sessions sends, per minute of
// its surge.
var surgeBytes = map[int]int{0: 800_000, 1: 1_600_000, 2: 2_400_000, 3: 1_200_000}

// natGroup is a delivery of session records. Each log's time (__time__,
// which the investigation's per-minute queries bucket by) is its session's
// start here; which time the real service stamps is unverified.
func natGroup(recs []map[string]string) *sls.LogGroup {
	lg := cloud.LogGroup("", time.Time{}, recs)
	for i, l := range lg.Logs {
		n, _ := strconv.ParseUint(recs[i]["start_time"], 10, 32)
		t := uint32(n)
		l.Time = &t
	}
	return lg
}

func (d *demo) ingest(ctx context.Context, begin, end string) (ingest.Summary, error) {
	return d.ingestEvent(ctx, cloud.TriggerEvent(project, natLS, begin, end))
}

func (d *demo) ingestEvent(ctx context.Context, event []byte) (ingest.Summary, error) {
	res, err := d.nat.Invoke(ctx, event)
	if err != nil {
		return ingest.Summary{}, err
	}
	if res.Error != nil {
		return ingest.Summary{}, fmt.Errorf("nat-ingest: %v", res.Error)
	}
	var s ingest.Summary
	return s, json.Unmarshal(res.Payload, &s)
}

type demoAlert struct {
	name, src string
	sport     int
	dst       string
	dport     int
	at        time.Time
	note      string
}

func (a demoAlert) body(id string) []byte {
	return []byte(fmt.Sprintf(`{"alert_id":%q,"time":%q,"protocol":"tcp","src_ip":%q,"src_port":%d,"dst_ip":%q,"dst_port":%d,"rule":%q}`,
		id, a.at.Format(time.RFC3339), a.src, a.sport, a.dst, a.dport, a.name))
}

func (d *demo) traceAlerts(ctx context.Context) ([]row, error) {
	at := func(min, sec int) time.Time {
		return d.t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	alerts := []demoAlert{
		{"surge to third party", eip, d.surgePort, thirdPty, 80, at(5, 10), "the seed's story"},
		{"reply seen inbound", thirdPty, 80, eip, d.surgePort, at(5, 10), "reversed orientation"},
		{"port reuse, early", eip, d.reusePort, remotes[0], 443, at(0, 30), "EIP:port used by two hosts"},
		{"port reuse, late", eip, d.reusePort, remotes[0], 443, at(4, 40), "...resolved by time"},
		{"overlapping sessions", eip, d.overlapPort, remotes[1], 443, at(3, 30), "two hosts fit: no guess"},
		{"NAT-mode EIP", eipNAT, d.natModePort, remotes[2], 443, at(1, 0), "nat_ip translated"},
		{"log lands mid-wait", eip, 62000, remotes[3], 443, at(9, 0), "record ingested 1.5s later"},
		{"log never comes", eip, 62001, remotes[3], 443, at(9, 0), "original alert kept"},
		{"before onboarding", eip, 62002, remotes[3], 443, d.now.Add(-time.Hour), "coverage starts at onboarding"},
		{"untagged CLB", "203.0.113.9", 40000, otherVIP, 443, at(6, 0), "not an onboarded egress"},
	}
	alerts = append(alerts, d.lbAlerts()...)
	type answer struct {
		i   int
		r   alert.Result
		err error
	}
	ch := make(chan answer, len(alerts)+1)
	for i, a := range alerts {
		go func() {
			r, err := d.traceOne(ctx, a.body(fmt.Sprintf("ndr-%03d", i+1)))
			ch <- answer{i, r, err}
		}()
	}
	// The late record: its trace is already waiting when it is ingested.
	time.Sleep(1500 * time.Millisecond)
	begin, end, err := d.lc.PutGroup(project, natLS, natGroup([]map[string]string{
		d.session(eip, 62000, "172.16.20.12", 46000, remotes[3], 443, at(8, 30), time.Minute, 9000)}))
	if err != nil {
		return nil, err
	}
	if _, err := d.ingest(ctx, begin, end); err != nil {
		return nil, err
	}
	// An invalid alert is answered too, naming the field.
	invalid := []byte(fmt.Sprintf(`{"alert_id":"ndr-%03d","time":%q,"protocol":"tcp","src_ip":%q,"src_port":1,"dst_ip":%q}`, len(alerts)+1, at(9, 30).Format(time.RFC3339), eip, thirdPty))
	ir, err := d.traceOne(ctx, invalid)
	if err != nil {
		return nil, err
	}

	rows := make([]row, len(alerts)+1)
	for range alerts {
		a := <-ch
		if a.err != nil {
			return nil, a.err
		}
		rows[a.i] = toRow(alerts[a.i].name, alerts[a.i].note, a.r)
	}
	rows[len(alerts)] = toRow("malformed alert", "rejected, kept", ir)
	return rows, nil
}

func (d *demo) traceOne(ctx context.Context, body []byte) (alert.Result, error) {
	return d.traceWith(ctx, d.trace, body)
}

func (d *demo) traceWith(ctx context.Context, fn *fcemu.Runtime, body []byte) (alert.Result, error) {
	res, err := fn.Invoke(ctx, body)
	if err != nil {
		return alert.Result{}, err
	}
	if res.Error != nil {
		return alert.Result{}, fmt.Errorf("trace: %v", res.Error)
	}
	var r alert.Result
	return r, json.Unmarshal(res.Payload, &r)
}

func toRow(name, note string, r alert.Result) row {
	var raw map[string]any
	json.Unmarshal(r.Alert, &raw)
	tup := fmt.Sprintf("%v:%v -> %v:%v", raw["src_ip"], orDash(raw["src_port"]), raw["dst_ip"], orDash(raw["dst_port"]))
	out := row{name: name + " (" + r.AlertID + ")", tuple: tup, status: string(r.Status), wait: fmt.Sprintf("%.1fs", float64(r.WaitedMS)/1000), note: note, instance: "-",
		account: "-", region: "-"}
	switch r.Status {
	case alert.Traced:
		out.account, out.region = r.Asset.AccountID, r.Asset.Region
		out.endpoint = fmt.Sprintf("%s:%d", r.Asset.PrivateIP, r.Asset.PrivatePort)
		if r.Asset.InstanceID != "" {
			out.instance = r.Asset.InstanceID
		}
	case alert.Ambiguous:
		out.instance = ""
		for i, c := range r.Candidates {
			if i > 0 {
				out.endpoint += " | "
				out.instance += " | "
			}
			out.endpoint += fmt.Sprintf("%s:%d", c.PrivateIP, c.PrivatePort)
			out.instance += c.InstanceID
		}
	case alert.StatusInvalid, alert.NotCovered:
		out.endpoint = r.Reason
		if len(out.endpoint) > 48 {
			out.endpoint = out.endpoint[:47] + "…"
		}
	default:
		out.endpoint = "-"
	}
	return out
}

func orDash(v any) any {
	if v == nil {
		return "-"
	}
	return v
}
