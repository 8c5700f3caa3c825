// Package traceapi is the trace function's handler: it takes alerts from a
// direct (or asynchronous) invocation or an HTTP trigger, traces them, records
// the results, and answers. Whatever happens, each alert comes back in its
// result and is recorded.
package traceapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/pending"
	"github.com/ndrtrace/ndrtrace/shared/results"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// Handler serves the trace function.
type Handler struct {
	Tracer   *trace.Tracer
	Recorder results.Recorder // nil: results are only returned
	Secret   string           // WEBHOOK_SECRET; empty: HTTP requests need no signature
	// Replays refuses a signed request received before; nil: not checked.
	Replays *webhook.Replays
	Late    *pending.Keeper // nil: late resolution off, lookup knows no id
	Now     func() time.Time
}

const (
	// recordGrace: recording may run this far past the trace's wall, and
	// no further, so that a slow logstore keeps the answer within the
	// contract's second (the results then go to the function log).
	recordGrace = 900 * time.Millisecond
	// maxRecord bounds recording an answer found long before the wall: a
	// healthy logstore takes milliseconds, and a stalled one must not
	// hold a traced answer for the whole TRACE_MAX_WAIT.
	maxRecord = 10 * time.Second
)

// Batch is the response to a batch of alerts.
type Batch struct {
	Results []alert.Result `json:"results"`
}

// Handle is the FC entry point. The payload is raw so that a body that is not
// JSON still becomes an invalid result rather than a runtime error.
func (h *Handler) Handle(ctx context.Context, payload []byte) (any, error) {
	req, isHTTP, err := webhook.FromEvent(payload)
	if !isHTTP {
		out, _, _ := h.traceBody(ctx, payload, false)
		return json.RawMessage(out), nil
	}
	log := fcenv.Logger(ctx)
	switch {
	case errors.Is(err, webhook.ErrTooLarge):
		return errorResponse(http.StatusRequestEntityTooLarge, "body exceeds the 6 MiB limit"), nil
	case err != nil:
		return errorResponse(http.StatusBadRequest, err.Error()), nil
	case req.Method != "" && req.Method != http.MethodPost:
		return errorResponse(http.StatusMethodNotAllowed, "POST alerts as JSON"), nil
	}
	if h.Secret != "" {
		now := h.now()
		sig, err := webhook.Verify(h.Secret, req, now)
		if err == nil && h.Replays != nil {
			err = h.Replays.Check(ctx, sig, now)
			if err != nil && !errors.Is(err, webhook.ErrReplayed) {
				// Redis is down: tracing needs it too, so the answer will be
				// "error" results, recorded with the alerts. Refusing here
				// would lose them; a replay during the outage can at most
				// record its alerts twice.
				log.Warn("replay check skipped", "err", err.Error())
				err = nil
			}
		}
		if err != nil {
			log.Warn("rejected unsigned, badly signed or replayed request", "err", err.Error())
			return errorResponse(http.StatusUnauthorized, err.Error()), nil
		}
	}
	out, status, recorded := h.traceBody(ctx, req.Body, true)
	resp := webhook.Response(status, out)
	if !recorded {
		resp.Headers["X-Ndrtrace-Recorded"] = "false"
	}
	return resp, nil
}

// traceBody decodes, traces and records; it returns the JSON answer, its
// HTTP status (400 when the request as a whole was bad: not JSON, or a
// single invalid alert) and whether the results were recorded. Over HTTP a
// batch over alert.MaxBatch is answered 413 and neither traced nor
// recorded: the sender is told and splits it. A direct invocation has no
// status to tell it, so its alerts come back invalid and are recorded.
func (h *Handler) traceBody(ctx context.Context, body []byte, overHTTP bool) (out []byte, status int, recorded bool) {
	if ids, ok, err := lookupIDs(body); ok {
		return h.lookup(ctx, ids, err)
	}
	items, batch := alert.DecodeAt(body, h.now())
	if overHTTP && alert.TooMany(items) {
		fcenv.Logger(ctx).Warn("refused an oversized batch", "alerts", len(items))
		b, _ := json.Marshal(map[string]string{"status": "error", "reason": items[0].Invalid.Reason})
		return b, http.StatusRequestEntityTooLarge, true
	}
	// The answer is due within a second of the wall, recorded or not.
	recordBy := h.Tracer.Wall(ctx, time.Now()).Add(recordGrace)
	rs := make([]alert.Result, len(items))
	var valid []*alert.Alert
	var at []int
	for i, it := range items {
		if it.Invalid != nil {
			rs[i] = alert.InvalidResult(it.Invalid)
			continue
		}
		valid = append(valid, it.Alert)
		at = append(at, i)
	}
	if len(valid) > 0 {
		for j, r := range h.Tracer.Trace(ctx, valid) {
			rs[at[j]] = r
		}
	}
	if cap := time.Now().Add(maxRecord); cap.Before(recordBy) {
		recordBy = cap
	}
	rctx, cancel := context.WithDeadline(ctx, recordBy)
	recorded = h.record(rctx, rs)
	cancel()

	var err error
	status = http.StatusOK
	if batch {
		out, err = json.Marshal(Batch{Results: rs})
	} else {
		out, err = json.Marshal(rs[0])
		if rs[0].Status == alert.StatusInvalid {
			status = http.StatusBadRequest
		}
	}
	if err != nil { // cannot happen for these types; keep the answer JSON anyway
		out = []byte(`{"status":"error","reason":"result encoding failed"}`)
	}
	return out, status, recorded
}

// record writes the results durably. When the results logstore cannot be
// written, the results go to the function's own log (which FC ships to SLS)
// so that no alert is lost.
func (h *Handler) record(ctx context.Context, rs []alert.Result) bool {
	log := fcenv.Logger(ctx)
	counts := map[alert.Status]int{}
	for _, r := range rs {
		counts[r.Status]++
	}
	log.Info("traced", "alerts", len(rs), "statuses", counts)
	if h.Recorder == nil || len(rs) == 0 {
		return true
	}
	if err := h.Recorder.Record(ctx, rs); err != nil {
		log.Error("results not recorded in the results logstore; fallback copy follows", "err", err)
		for _, r := range rs {
			log.Error("unrecorded result", "result", r)
		}
		return false
	}
	return true
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func errorResponse(status int, reason string) any {
	b, _ := json.Marshal(map[string]string{"status": "error", "reason": reason})
	return webhook.Response(status, b)
}
