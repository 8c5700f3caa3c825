package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/lblog"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// Late resolution through the compiled functions: trace answers untraced
// with pending_until, and the ingest that later writes the record records
// the late result in the results logstore and POSTs it to CALLBACK_URL (a
// local HTTP server here) before it returns.

const lateResultsLS = "late-results"

// callbackSink is the CALLBACK_URL receiver: it checks each signature as a
// receiver would and keeps what it got.
type callbackSink struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []alert.Result
	bad int // requests whose signature did not verify
}

func newCallbackSink() *callbackSink {
	c := &callbackSink{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &webhook.Request{Method: r.Method, Headers: map[string]string{}, Body: body}
		for k := range r.Header {
			req.Headers[strings.ToLower(k)] = r.Header.Get(k)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		var res alert.Result
		if _, err := webhook.Verify(secret, req, time.Now()); err != nil || json.Unmarshal(body, &res) != nil {
			c.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		c.got = append(c.got, res)
	}))
	return c
}

// of returns what was POSTed for an alert id, in order.
func (c *callbackSink) of(id string) []alert.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []alert.Result
	for _, r := range c.got {
		if r.AlertID == id {
			out = append(out, r)
		}
	}
	return out
}

type lateSet struct {
	nat, lb, trace *fcemu.Runtime
	cb             *callbackSink
	results        string // the results logstore
}

var (
	lateOnce sync.Once
	lateOn   lateSet
	lateOff  lateSet
	lateErr  error
)

// lateFunctions starts nat-ingest, lb-ingest and trace with the results
// logstore and a callback, twice: with the default window, and with
// TRACE_LATE_WINDOW=0.
func lateFunctions(t *testing.T) (on, off lateSet) {
	t.Helper()
	lateOnce.Do(func() {
		ctx := context.Background()
		book := fmt.Sprintf(`[{"type":"nat","id":"ngw-late","vpc_id":"vpc-late","public_ip":"47.100.79.9","private_ip":"172.16.79.9","account_id":%q,"region":"cn-hangzhou"}]`, lc.Account)
		for _, s := range []struct {
			set    *lateSet
			window string
		}{{&lateOn, "30m"}, {&lateOff, "0"}} {
			s.set.cb = newCallbackSink()
			s.set.results = lateResultsLS + "-" + strings.ReplaceAll(s.window, "0", "zero")
			lc.Logstore(project, s.set.results)
			env := map[string]string{
				"TRACE_MAX_WAIT": "1s", "TRACE_LATE_WINDOW": s.window, "WEBHOOK_SECRET": secret,
				"RESULTS_ENDPOINT": cloud.SLSEndpoint, "RESULTS_PROJECT": project, "RESULTS_LOGSTORE": s.set.results,
				"CALLBACK_URL": s.set.cb.srv.URL + "/late", "EGRESS_ADDRESSES": book,
			}
			timeout := func(f *fcemu.Function) { f.Timeout = 30 * time.Second }
			for name, dst := range map[string]**fcemu.Runtime{"nat-ingest": &s.set.nat, "lb-ingest": &s.set.lb, "trace": &s.set.trace} {
				if *dst, lateErr = lc.Function(ctx, name, env, timeout); lateErr != nil {
					return
				}
			}
		}
	})
	if lateErr != nil {
		t.Fatal(lateErr)
	}
	return lateOn, lateOff
}

// recorded returns the results logstore's logs of an alert id, in order.
func recorded(ls, id string) []map[string]string {
	var out []map[string]string
	for _, lg := range lc.SLS.LogGroups(project, ls) {
		for _, l := range lg.Logs {
			f := map[string]string{}
			for _, c := range l.Contents {
				f[c.GetKey()] = c.GetValue()
			}
			if f["alert_id"] == id {
				out = append(out, f)
			}
		}
	}
	return out
}

// lateOf returns the late logs of an id.
func lateOf(ls, id string) []map[string]string {
	var out []map[string]string
	for _, f := range recorded(ls, id) {
		if f["late"] == "true" {
			out = append(out, f)
		}
	}
	return out
}

func lookup(t *testing.T, rt *fcemu.Runtime, ids ...string) []alert.Result {
	t.Helper()
	body, _ := json.Marshal(map[string][]string{"lookup": ids})
	res := invoke(t, rt, body)
	var b traceapi.Batch
	if res.Error != nil || json.Unmarshal(res.Payload, &b) != nil || len(b.Results) != len(ids) {
		t.Fatalf("lookup: %s %v", res.Payload, res.Error)
	}
	return b.Results
}

func lateBatch(t *testing.T, rt *fcemu.Runtime, bodies ...[]byte) []alert.Result {
	t.Helper()
	var parts []string
	for _, b := range bodies {
		parts = append(parts, string(b))
	}
	res := invoke(t, rt, []byte(`{"alerts":[`+strings.Join(parts, ",")+`]}`))
	var b traceapi.Batch
	if res.Error != nil || json.Unmarshal(res.Payload, &b) != nil || len(b.Results) != len(bodies) {
		t.Fatalf("trace: %s %v", res.Payload, res.Error)
	}
	return b.Results
}

// mustPend checks an untraced answer that promises late resolution.
func mustPend(t *testing.T, r alert.Result) {
	t.Helper()
	until, err := time.Parse(time.RFC3339, r.PendingUntil)
	if r.Status != alert.Untraced || err != nil || until.Before(time.Now().Add(25*time.Minute)) || until.After(time.Now().Add(31*time.Minute)) {
		t.Fatalf("%s: status %s pending_until %q, want untraced pending ~30m", r.AlertID, r.Status, r.PendingUntil)
	}
}

// mustLate checks that an alert got exactly one late result, traced to
// private, in the results logstore, at the callback and through lookup.
func mustLate(t *testing.T, set lateSet, id string, body []byte, private string) {
	t.Helper()
	logs := lateOf(set.results, id)
	if len(logs) != 1 || logs[0]["status"] != "traced" || logs[0]["private_ip"] != private || logs[0]["alert"] != string(body) || logs[0]["resolved_at"] == "" {
		t.Fatalf("%s: late logs %v, want one traced to %s", id, logs, private)
	}
	cbs := set.cb.of(id)
	if len(cbs) != 1 || !cbs[0].Late || cbs[0].Status != alert.Traced || cbs[0].Asset.PrivateIP != private || string(cbs[0].Alert) != string(body) {
		t.Fatalf("%s: callbacks %+v", id, cbs)
	}
	if _, err := time.Parse(time.RFC3339, cbs[0].ResolvedAt); err != nil {
		t.Fatalf("%s: resolved_at %q", id, cbs[0].ResolvedAt)
	}
	r := lookup(t, set.trace, id)[0]
	if r.Status != alert.Traced || !r.Late || r.Asset == nil || r.Asset.PrivateIP != private {
		t.Fatalf("%s: lookup %+v", id, r)
	}
}

// TestLateNAT: single and batched alerts, both orientations, a NAT-mode
// EIP; their records land after the wall; replays emit nothing new.
func TestLateNAT(t *testing.T) {
	on, _ := lateFunctions(t)
	const eip, natModeEIP, natModePri, remote = "47.100.71.1", "47.100.79.9", "172.16.79.9", "106.11.71.1"
	at := t0.Add(3 * time.Minute)
	out := alertBody("late-out", eip, 41001, remote, 443, at) // outbound, EIP as source
	in := alertBody("late-in", remote, 443, eip, 41002, at)   // the reply: EIP as destination
	natMode := alertBody("late-natmode", natModeEIP, 41003, remote, 443, at)
	single := alertBody("late-single", eip, 41004, remote, 443, at)

	for _, r := range lateBatch(t, on.trace, out, in, natMode) {
		mustPend(t, r)
	}
	mustPend(t, traceDirect(t, on.trace, single))
	rs := lookup(t, on.trace, "late-out", "never-seen", "late-single")
	if rs[0].Status != alert.Untraced || rs[0].PendingUntil == "" || rs[1].Status != "unknown" || rs[1].AlertID != "never-seen" || rs[2].Status != alert.Untraced {
		t.Fatalf("lookup before: %+v", rs)
	}

	ls := uniq("late-nat")
	lc.Logstore(project, ls)
	records := []map[string]string{
		session(eip, 41001, "172.16.71.1", remote, t0, t0.Add(10*time.Minute)),
		session(eip, 41002, "172.16.71.2", remote, t0, t0.Add(10*time.Minute)),
		session(natModePri, 41003, "172.16.71.3", remote, t0, t0.Add(10*time.Minute)),
		session(eip, 41004, "172.16.71.4", remote, t0, t0.Add(10*time.Minute)),
		session(eip, 41999, "172.16.71.9", remote, t0, t0.Add(10*time.Minute)), // explains nothing pending
	}
	for _, r := range records {
		r["instance"], r["vpc_id"] = "ngw-late", "vpc-late"
	}
	begin, end, err := lc.Put(project, ls, "", t0.Add(14*time.Minute), records)
	if err != nil {
		t.Fatal(err)
	}
	if s := ingestRange(t, on.nat, ls, begin, end); s.Mappings != len(records) {
		t.Fatalf("summary %+v", s)
	}
	mustLate(t, on, "late-out", out, "172.16.71.1")
	mustLate(t, on, "late-in", in, "172.16.71.2")
	mustLate(t, on, "late-natmode", natMode, "172.16.71.3")
	mustLate(t, on, "late-single", single, "172.16.71.4")

	// The trigger replays the range; then the same records arrive again in
	// a log group of their own (written again, not skipped): nothing new.
	if s := ingestRange(t, on.nat, ls, begin, end); s.Replayed != 1 {
		t.Fatalf("replay summary %+v", s)
	}
	begin, end, err = lc.Put(project, ls, "", t0.Add(15*time.Minute), records)
	if err != nil {
		t.Fatal(err)
	}
	if s := ingestRange(t, on.nat, ls, begin, end); s.Mappings != len(records) {
		t.Fatalf("second copy summary %+v", s)
	}
	for id, body := range map[string][]byte{"late-out": out, "late-in": in, "late-natmode": natMode, "late-single": single} {
		mustLate(t, on, id, body, map[string]string{"late-out": "172.16.71.1", "late-in": "172.16.71.2", "late-natmode": "172.16.71.3", "late-single": "172.16.71.4"}[id])
	}
	if on.cb.bad != 0 {
		t.Fatalf("%d callbacks failed their signature", on.cb.bad)
	}
}

// TestLateLB: ALB (no client port) and CLB alerts in both orientations.
func TestLateLB(t *testing.T) {
	on, _ := lateFunctions(t)
	const albVIP, clbVIP, client = "39.100.72.1", "47.100.72.1", "47.96.72.1"
	at := t0.Add(4 * time.Minute)
	albIn := lbAlert("late-alb-in", client, 50001, albVIP, 443, at, "")
	albOut := lbAlert("late-alb-out", albVIP, 443, client, 50002, at, "")
	clbIn := lbAlert("late-clb-in", client, 50003, clbVIP, 80, at, "")
	clbOut := lbAlert("late-clb-out", clbVIP, 80, client, 50004, at, "")
	for _, r := range lateBatch(t, on.trace, albIn, albOut, clbIn, clbOut) {
		mustPend(t, r)
	}
	alb := []map[string]string{
		lbReq("alb", "alb-late1", client, "", albVIP, 443, "192.168.72.1:8080", at, "0.010"),
	}
	clb := []map[string]string{
		lbReq("clb", "lb-late1", client, "50003", clbVIP, 80, "172.16.72.3:80", at, "0.010"),
		lbReq("clb", "lb-late1", client, "50004", clbVIP, 80, "172.16.72.4:80", at, "0.010"),
	}
	for _, src := range []struct {
		prefix, topic string
		records       []map[string]string
	}{{"late-alb", lblog.TopicALB, alb}, {"late-clb", lblog.TopicCLB, clb}} {
		ls, begin, end := putLB(t, src.prefix, src.topic, at.Add(time.Minute), src.records)
		if s := ingestRange(t, on.lb, ls, begin, end); s.Mappings != len(src.records) {
			t.Fatalf("%s summary %+v", ls, s)
		}
	}
	// Without a client port in the ALB log, the record explains both ALB
	// alerts: one request, two tuples the detector saw.
	mustLate(t, on, "late-alb-in", albIn, "192.168.72.1")
	mustLate(t, on, "late-alb-out", albOut, "192.168.72.1")
	mustLate(t, on, "late-clb-in", clbIn, "172.16.72.3")
	mustLate(t, on, "late-clb-out", clbOut, "172.16.72.4")
}

// TestLateCorrection: a record that adds a second fitting endpoint to a
// traced answer (at once, or late) emits a correction.
func TestLateCorrection(t *testing.T) {
	on, _ := lateFunctions(t)
	const eip, remote = "47.100.73.1", "106.11.73.1"
	at := t0.Add(9*time.Minute + 30*time.Second)
	ls := uniq("late-corr")
	lc.Logstore(project, ls)
	put := func(records ...map[string]string) {
		t.Helper()
		begin, end, err := lc.Put(project, ls, "", t0.Add(20*time.Minute), records)
		if err != nil {
			t.Fatal(err)
		}
		ingestRange(t, on.nat, ls, begin, end)
	}
	put(session(eip, 42001, "172.16.73.1", remote, t0, t0.Add(10*time.Minute)))
	now := alertBody("corr-now", eip, 42001, remote, 443, at)
	later := alertBody("corr-late", eip, 42002, remote, 443, at)
	if r := traceDirect(t, on.trace, now); r.Status != alert.Traced || r.PendingUntil != "" {
		t.Fatalf("corr-now: %+v", r)
	}
	mustPend(t, traceDirect(t, on.trace, later))
	put(session(eip, 42002, "172.16.73.2", remote, t0, t0.Add(10*time.Minute)))
	mustLate(t, on, "corr-late", later, "172.16.73.2")
	if len(on.cb.of("corr-now")) != 0 {
		t.Fatal("a record for another tuple touched corr-now")
	}

	// The next capture window of two other hosts reuses both ports: both
	// answers become ambiguous.
	put(session(eip, 42001, "172.16.73.11", remote, t0.Add(9*time.Minute), t0.Add(19*time.Minute)),
		session(eip, 42002, "172.16.73.12", remote, t0.Add(9*time.Minute), t0.Add(19*time.Minute)))
	for id, want := range map[string][]string{"corr-now": {"172.16.73.1", "172.16.73.11"}, "corr-late": {"172.16.73.12", "172.16.73.2"}} {
		var corr []map[string]string
		for _, f := range lateOf(on.results, id) {
			if f["supersedes"] != "" {
				corr = append(corr, f)
			}
		}
		if len(corr) != 1 || corr[0]["status"] != "ambiguous" || corr[0]["supersedes"] != "traced" {
			t.Fatalf("%s: corrections %v", id, corr)
		}
		cbs := on.cb.of(id)
		last := cbs[len(cbs)-1]
		var got []string
		for _, c := range last.Candidates {
			got = append(got, c.PrivateIP)
		}
		sort.Strings(got)
		if last.Status != alert.Ambiguous || last.Supersedes != alert.Traced || !last.Late || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: correction callback %+v", id, last)
		}
		if r := lookup(t, on.trace, id)[0]; r.Status != alert.Ambiguous || r.Supersedes != alert.Traced {
			t.Fatalf("%s: lookup %+v", id, r)
		}
	}
	// An ambiguous answer is final: a third host changes nothing more.
	put(session(eip, 42001, "172.16.73.21", remote, t0.Add(5*time.Minute), t0.Add(15*time.Minute)))
	if n := len(on.cb.of("corr-now")); n != 1 {
		t.Fatalf("corr-now: %d callbacks, want the one correction", n)
	}
}

// TestLateResultsStoreFailing: a late result that cannot be recorded keeps
// its alert pending (and fails nothing else); a later ingest resolves it.
func TestLateResultsStoreFailing(t *testing.T) {
	on, _ := lateFunctions(t)
	const eip, remote = "47.100.74.1", "106.11.74.1"
	body := alertBody("late-failing", eip, 43001, remote, 443, t0.Add(2*time.Minute))
	mustPend(t, traceDirect(t, on.trace, body))

	ls := uniq("late-fail")
	lc.Logstore(project, ls)
	lc.SLS.FailNext(project, on.results, 1000, 403, "Unauthorized")
	begin, end, _ := lc.Put(project, ls, "", t0.Add(11*time.Minute), []map[string]string{
		session(eip, 43001, "172.16.74.1", remote, t0, t0.Add(10*time.Minute))})
	if s := ingestRange(t, on.nat, ls, begin, end); s.Mappings != 1 {
		t.Fatalf("summary %+v", s)
	}
	lc.SLS.FailNext(project, on.results, 0, 0, "")
	if n, c := len(lateOf(on.results, "late-failing")), len(on.cb.of("late-failing")); n != 0 || c != 0 {
		t.Fatalf("%d late logs, %d callbacks while the logstore failed", n, c)
	}
	if r := lookup(t, on.trace, "late-failing")[0]; r.Status != alert.Untraced || r.PendingUntil == "" {
		t.Fatalf("not pending any more: %+v", r)
	}
	// The next capture window of the same session.
	begin, end, _ = lc.Put(project, ls, "", t0.Add(21*time.Minute), []map[string]string{
		session(eip, 43001, "172.16.74.1", remote, t0.Add(10*time.Minute), t0.Add(20*time.Minute))})
	ingestRange(t, on.nat, ls, begin, end)
	mustLate(t, on, "late-failing", body, "172.16.74.1")
}

// TestLateWindowZero: TRACE_LATE_WINDOW=0 turns it all off.
func TestLateWindowZero(t *testing.T) {
	_, off := lateFunctions(t)
	const eip, remote = "47.100.75.1", "106.11.75.1"
	body := alertBody("late-off", eip, 44001, remote, 443, t0.Add(2*time.Minute))
	if r := traceDirect(t, off.trace, body); r.Status != alert.Untraced || r.PendingUntil != "" {
		t.Fatalf("%+v", r)
	}
	ls := uniq("late-off")
	lc.Logstore(project, ls)
	begin, end, _ := lc.Put(project, ls, "", t0.Add(11*time.Minute), []map[string]string{
		session(eip, 44001, "172.16.75.1", remote, t0, t0.Add(10*time.Minute))})
	ingestRange(t, off.nat, ls, begin, end)
	if n, c := len(lateOf(off.results, "late-off")), len(off.cb.of("late-off")); n != 0 || c != 0 {
		t.Fatalf("%d late logs, %d callbacks with the window off", n, c)
	}
	if r := lookup(t, off.trace, "late-off")[0]; r.Status != "unknown" {
		t.Fatalf("lookup with the window off: %+v", r)
	}
	// The answer itself was recorded as always.
	if logs := recorded(off.results, "late-off"); len(logs) != 1 || logs[0]["status"] != "untraced" || logs[0]["pending_until"] != "" {
		t.Fatalf("recorded %v", logs)
	}
}
