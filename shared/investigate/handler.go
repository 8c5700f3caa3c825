package investigate

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// Handler serves the investigate function: a direct invocation carries the
// request JSON; an HTTP trigger request carries it as the body, signed like
// trace's webhook when a secret is set, and gets the chart alone as a PNG
// when it asks for one (Accept: image/png).
type Handler struct {
	Investigator *Investigator
	Secret       string // WEBHOOK_SECRET; empty: HTTP requests need no signature
	// Replays refuses a signed request received before; nil: not checked.
	Replays *webhook.Replays
	Now     func() time.Time
}

// ErrorAnswer is the answer to a request that is not investigated.
type ErrorAnswer struct {
	Status string `json:"status"` // "invalid" (bad request) or "error" (infrastructure)
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// Handle is the FC entry point.
func (h *Handler) Handle(ctx context.Context, payload []byte) (any, error) {
	req, isHTTP, err := webhook.FromEvent(payload)
	if !isHTTP {
		res, err := h.investigate(ctx, payload)
		var br *BadRequest
		switch {
		case errors.As(err, &br):
			return ErrorAnswer{Status: "invalid", Field: br.Field, Reason: br.Reason}, nil
		case err != nil:
			return nil, err // the caller (or FC's async retry) tries again
		}
		return res, nil
	}
	log := fcenv.Logger(ctx)
	switch {
	case errors.Is(err, webhook.ErrTooLarge):
		return answer(http.StatusRequestEntityTooLarge, ErrorAnswer{Status: "invalid", Reason: "body exceeds the limit"}), nil
	case err != nil:
		return answer(http.StatusBadRequest, ErrorAnswer{Status: "invalid", Reason: err.Error()}), nil
	case req.Method != "" && req.Method != http.MethodPost:
		return answer(http.StatusMethodNotAllowed, ErrorAnswer{Status: "invalid", Reason: "POST the request as JSON"}), nil
	}
	if h.Secret != "" {
		now := h.now()
		sig, err := webhook.Verify(h.Secret, req, now)
		if err == nil && h.Replays != nil {
			if err = h.Replays.Check(ctx, sig, now); err != nil && !errors.Is(err, webhook.ErrReplayed) {
				// Redis is down: an investigation reads SLS only and changes
				// nothing, so answering a possible replay costs a query.
				log.Warn("replay check skipped", "err", err.Error())
				err = nil
			}
		}
		if err != nil {
			log.Warn("rejected unsigned, badly signed or replayed request", "err", err.Error())
			return answer(http.StatusUnauthorized, ErrorAnswer{Status: "invalid", Reason: err.Error()}), nil
		}
	}
	png := wantsPNG(req.Header("accept"))
	res, err := h.investigate(ctx, req.Body)
	var br *BadRequest
	switch {
	case errors.As(err, &br):
		return answer(http.StatusBadRequest, ErrorAnswer{Status: "invalid", Field: br.Field, Reason: br.Reason}), nil
	case err != nil:
		log.Error("investigation failed", "err", err.Error())
		return answer(http.StatusBadGateway, ErrorAnswer{Status: "error", Reason: err.Error()}), nil
	}
	if png {
		return pngResponse(res.Chart.PNG), nil
	}
	return answer(http.StatusOK, res), nil
}

// investigate parses, runs and draws.
func (h *Handler) investigate(ctx context.Context, body []byte) (*Result, error) {
	r, err := ParseRequest(body)
	if err != nil {
		return nil, err
	}
	log := fcenv.Logger(ctx)
	start := time.Now()
	res, err := h.Investigator.Run(ctx, r)
	if err != nil {
		return nil, err
	}
	if res.Chart, err = Draw(res); err != nil {
		return nil, err
	}
	log.Info("investigated", "dst_ip", res.DstIP, "dst_port", res.DstPort, "egress_ip", res.EgressIP,
		"from", res.From, "to", res.To, "minutes", len(res.Minutes), "hosts", len(res.Hosts),
		"peak_minute", res.PeakMinute, "took_ms", time.Since(start).Milliseconds())
	return res, nil
}

// wantsPNG: the client accepts image/png and prefers it to JSON (a browser
// or curl -H 'Accept: image/png').
func wantsPNG(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "image/png":
			return true
		case "application/json":
			return false
		}
	}
	return false
}

func answer(status int, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"status":"error","reason":"answer encoding failed"}`)
	}
	return webhook.Response(status, b)
}

func pngResponse(png []byte) any {
	resp := webhook.Response(http.StatusOK, nil)
	resp.Headers["Content-Type"] = "image/png"
	resp.IsBase64Encoded = true
	resp.Body = base64.StdEncoding.EncodeToString(png)
	return resp
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
