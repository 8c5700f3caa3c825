package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// Late results. NAT session logs land minutes after their sessions (a
// capture window of ~10 minutes, then up to ~5 minutes of delivery), so an
// alert about a fresh connection usually reaches trace first. Here the
// scenario goes on with delivery replayed as it happens, on a compressed
// clock (one scenario minute = tick): each minute a delivery lands and
// nat-ingest runs on it as its SLS trigger would, while alerts fire at
// their own scenario times and trace waits four scenario minutes.

// demoSecret signs the late results POSTed to the demo's callback receiver.
const demoSecret = "local-demo-webhook-secret"

// callbackSink is the CALLBACK_URL receiver: it checks each signature, as
// a receiver must, and keeps what it got and when.
type callbackSink struct {
	srv *http.Server
	ln  net.Listener
	mu  sync.Mutex
	got []received
	bad int
}

type received struct {
	r  alert.Result
	at time.Time
}

func newCallbackSink() (*callbackSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &callbackSink{ln: ln}
	c.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &webhook.Request{Method: r.Method, Headers: map[string]string{}, Body: body}
		for k := range r.Header {
			req.Headers[strings.ToLower(k)] = r.Header.Get(k)
		}
		var res alert.Result
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, err := webhook.Verify(demoSecret, req, time.Now()); err != nil || json.Unmarshal(body, &res) != nil {
			c.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		c.got = append(c.got, received{res, time.Now()})
	})}
	go c.srv.Serve(ln)
	return c, nil
}

func (c *callbackSink) url() string { return "http://" + c.ln.Addr().String() + "/ndrtrace/late" }

func (c *callbackSink) close() { c.srv.Close() }

// of is what was POSTed for an alert, in order.
func (c *callbackSink) of(id string) []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []received
	for _, g := range c.got {
		if g.r.AlertID == id {
			out = append(out, g)
		}
	}
	return out
}

// lateCase is one alert of the replay and the sessions behind it. Times
// are scenario minutes after the replay's start.
type lateCase struct {
	name, note string
	port       int
	remote     string
	reversed   bool
	alertAt    float64
	sessions   []lateSession
}

type lateSession struct {
	host         string
	start, dur   float64
	lands        int // the scenario minute its record is delivered
	bytesFromVPC int
}

// lateRow is one alert's story: its first answer, and its late answer as
// the results logstore and the callback have it.
type lateRow struct {
	id, name, tuple, note string
	first                 alert.Result
	late                  map[string]string // the results logstore's last late log of the alert
	callbacks             int
	scen, real            time.Duration // from the alert to its late result
}

func lateCases() []lateCase {
	return []lateCase{
		{name: "fresh connection", note: "record lands 7.5 min after the alert", port: 63001, remote: remotes[4], alertAt: 0.5,
			sessions: []lateSession{{host: "172.16.20.15", start: 0.3, dur: 5, lands: 8, bytesFromVPC: 48_000}}},
		{name: "reply seen inbound", note: "8 min; reversed orientation", port: 63002, remote: remotes[3], reversed: true, alertAt: 1,
			sessions: []lateSession{{host: "172.16.20.27", start: 0.9, dur: 4, lands: 9, bytesFromVPC: 12_000}}},
		{name: "log lands within the wait", note: "no late result needed", port: 63003, remote: remotes[0], alertAt: 2.1,
			sessions: []lateSession{{host: "172.16.20.38", start: 2, dur: 1, lands: 3, bytesFromVPC: 3_000}}},
		{name: "a second host appears", note: "traced, then corrected", port: 63004, remote: remotes[1], alertAt: 3.5,
			sessions: []lateSession{{host: "172.16.20.41", start: 3, dur: 1, lands: 4, bytesFromVPC: 6_000},
				{host: "172.16.20.42", start: 3.3, dur: 5, lands: 10, bytesFromVPC: 6_000}}},
	}
}

const lateMinutes = 10 // deliveries at scenario minutes 0..lateMinutes

func (d *demo) replayLate(ctx context.Context) ([]lateRow, error) {
	base := d.t0.Add(10 * time.Minute) // the scenario's clock goes on after part 2's minutes
	scen := func(min float64) time.Time { return base.Add(time.Duration(min * float64(time.Minute))) }
	w0 := time.Now().Add(d.tick / 2)
	wall := func(min float64) time.Time { return w0.Add(time.Duration(min * float64(d.tick))) }
	fmt.Fprintf(d.out, "%s-%s replayed at 1 scenario minute = %s; trace waits 4 scenario minutes (TRACE_MAX_WAIT=%s, 90s in production);\n",
		base.Format("15:04"), base.Add(lateMinutes*time.Minute).Format("15:04"), d.tick, 4*d.tick)
	fmt.Fprintf(d.out, "late results go to the results logstore %s/%s and, signed, to CALLBACK_URL (a receiver this demo runs).\n\n", project, resultsLS)

	cases := lateCases()
	rows := make([]lateRow, len(cases))
	sent := make([]time.Time, len(cases))
	var wg sync.WaitGroup
	errs := make(chan error, len(cases)+1)
	for i, c := range cases {
		a := demoAlert{name: c.name, src: eip, sport: c.port, dst: c.remote, dport: 443, at: scen(c.alertAt)}
		if c.reversed {
			a.src, a.sport, a.dst, a.dport = c.remote, 443, eip, c.port
		}
		rows[i] = lateRow{id: fmt.Sprintf("ndr-late-%d", i+1), name: c.name, note: c.note,
			tuple: fmt.Sprintf("%s:%d -> %s:%d", a.src, a.sport, a.dst, a.dport)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleepUntil(ctx, wall(c.alertAt))
			sent[i] = time.Now()
			r, err := d.traceWith(ctx, d.lateFn, a.body(rows[i].id))
			if err != nil {
				errs <- err
				return
			}
			rows[i].first = r
		}()
	}
	// Deliveries: every scenario minute, the background sessions of eight
	// minutes earlier and the records the cases' sessions land with.
	records := 0
	for k := 0; k <= lateMinutes; k++ {
		sleepUntil(ctx, wall(float64(k)))
		var recs []map[string]string
		for i := 0; i < 100; i++ {
			host := fmt.Sprintf("172.16.20.%d", 1+d.rng.IntN(50))
			at := scen(float64(k-8) + d.rng.Float64())
			recs = append(recs, d.session(eip, 1024+d.rng.IntN(60000), host, 30000+d.rng.IntN(30000), remotes[d.rng.IntN(len(remotes)-1)], 443,
				at, time.Duration(30+d.rng.IntN(300))*time.Second, 200+d.rng.IntN(50000)))
		}
		for _, c := range cases {
			for n, s := range c.sessions {
				if s.lands == k {
					recs = append(recs, d.session(eip, c.port, s.host, 47000+n, c.remote, 443, scen(s.start), time.Duration(s.dur*float64(time.Minute)), s.bytesFromVPC))
				}
			}
		}
		begin, end, err := d.lc.PutGroup(project, natLS, natGroup(recs))
		if err != nil {
			return nil, err
		}
		if _, err := d.ingest(ctx, begin, end); err != nil {
			return nil, err
		}
		records += len(recs)
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	// Every late result was recorded and POSTed before the ingest that
	// found it returned; the receiver may still be reading the last one.
	expect := func(i int) int {
		n := 0
		if rows[i].first.Status == alert.Untraced {
			n++
		}
		if len(cases[i].sessions) > 1 {
			n++ // the correction
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		all := true
		for i := range rows {
			all = all && len(d.cb.of(rows[i].id)) >= expect(i)
		}
		if all {
			break
		}
	}
	lateLogs := d.lateLogs()
	for i := range rows {
		r := &rows[i]
		r.late = lateLogs[r.id]
		got := d.cb.of(r.id)
		r.callbacks = len(got)
		if len(got) > 0 {
			last := got[len(got)-1]
			r.real = last.at.Sub(sent[i])
			r.scen = time.Duration(float64(r.real) / float64(d.tick) * float64(time.Minute)).Round(time.Second)
		}
	}
	fmt.Fprintf(d.out, "%d deliveries, %d session records, each ingested by nat-ingest as it landed\n\n", lateMinutes+1, records)
	printLate(d.out, rows)
	return rows, nil
}

// lateLogs reads the results logstore: the last late log of each alert.
func (d *demo) lateLogs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lg := range d.lc.SLS.LogGroups(project, resultsLS) {
		for _, l := range lg.Logs {
			f := map[string]string{}
			for _, c := range l.Contents {
				f[c.GetKey()] = c.GetValue()
			}
			if f["late"] == "true" {
				out[f["alert_id"]] = f
			}
		}
	}
	return out
}

func printLate(w io.Writer, rows []lateRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ALERT\tPUBLIC TUPLE\tFIRST ANSWER\tLATE ANSWER (results logstore)\tPRIVATE ENDPOINT\tINSTANCE\tLATE BY (scenario / real)\tCALLBACK\tNOTE")
	for _, r := range rows {
		first := string(r.first.Status)
		if r.first.PendingUntil != "" {
			if t, err := time.Parse(time.RFC3339, r.first.PendingUntil); err == nil {
				first += ", pending until " + t.In(beijing).Format("15:04:05")
			}
		}
		late, by := "-", "-"
		endpoint, instance := r.final()
		if r.late != nil {
			late = r.late["status"]
			if s := r.late["supersedes"]; s != "" {
				late += " (supersedes " + s + ")"
			}
			by = fmt.Sprintf("%s / %s", r.scen, r.real.Round(10*time.Millisecond))
		}
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.name, r.id, r.tuple, first, late, endpoint, orNone(instance), by, r.callbacks, r.note)
	}
	tw.Flush()
}

// final is the endpoint and instance of an alert's last answer (its late
// result when it has one): " | " between an ambiguous answer's candidates.
func (r lateRow) final() (endpoint, instance string) {
	if r.late == nil {
		if a := r.first.Asset; a != nil {
			return fmt.Sprintf("%s:%d", a.PrivateIP, a.PrivatePort), a.InstanceID
		}
		return "-", ""
	}
	if r.late["status"] != string(alert.Ambiguous) {
		return r.late["private_ip"] + ":" + r.late["private_port"], r.late["instance_id"]
	}
	var cs []alert.Asset
	json.Unmarshal([]byte(r.late["candidates"]), &cs)
	for i, c := range cs {
		if i > 0 {
			endpoint += " | "
			instance += " | "
		}
		endpoint += fmt.Sprintf("%s:%d", c.PrivateIP, c.PrivatePort)
		instance += c.InstanceID
	}
	return endpoint, instance
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}
