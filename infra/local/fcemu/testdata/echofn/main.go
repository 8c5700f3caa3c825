// Command echofn is the fcemu test function: a real fc.Start handler that
// reports what the runtime API told it, and misbehaves on request.
//
// Event fields: {"fail":true} returns an error, {"panic":true} panics,
// {"sleep_ms":N} sleeps ignoring ctx (to provoke emulator timeouts),
// {"exit":N} kills the process, {"wait_ctx":true} blocks until the ctx
// deadline. An HTTP trigger event gets an HTTPTriggerResponse echo.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

var initCount atomic.Int32

// running and peak count the handlers running at once, so that a test can
// tell concurrent invocations from serial ones by state, not by time.
var running, peak atomic.Int32

type event struct {
	Fail    bool `json:"fail"`
	Panic   bool `json:"panic"`
	SleepMS int  `json:"sleep_ms"`
	Exit    *int `json:"exit"`
	WaitCtx bool `json:"wait_ctx"`

	// Set only by HTTP trigger events.
	Version        string          `json:"version"`
	RequestContext json.RawMessage `json:"requestContext"`
}

type echo struct {
	Event      json.RawMessage    `json:"event"`
	RequestID  string             `json:"request_id"`
	AK         string             `json:"ak"`
	Secret     string             `json:"secret"`
	Token      string             `json:"token"`
	Region     string             `json:"region"`
	Account    string             `json:"account"`
	Function   fccontext.Function `json:"function"`
	LogProject string             `json:"log_project"`
	RetryCount int                `json:"retry_count"`
	DeadlineMS int64              `json:"deadline_remaining_ms"`
	Inited     int32              `json:"inited"`
	Peak       int32              `json:"peak"`
	Env        map[string]string  `json:"env"`
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	now := running.Add(1)
	defer running.Add(-1)
	for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
	}
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	switch {
	case ev.Fail:
		return nil, errors.New("asked to fail")
	case ev.Panic:
		panic("asked to panic")
	case ev.Exit != nil:
		os.Exit(*ev.Exit)
	case ev.WaitCtx:
		<-ctx.Done()
		return nil, ctx.Err()
	case ev.SleepMS > 0:
		time.Sleep(time.Duration(ev.SleepMS) * time.Millisecond)
	}
	if ev.Version == "v1" && ev.RequestContext != nil {
		return httpEcho(raw)
	}

	fctx, _ := fccontext.FromContext(ctx)
	out := echo{
		Event:      raw,
		RequestID:  fctx.RequestID,
		AK:         fctx.Credentials.AccessKeyId,
		Secret:     fctx.Credentials.AccessKeySecret,
		Token:      fctx.Credentials.SecurityToken,
		Region:     fctx.Region,
		Account:    fctx.AccountId,
		Function:   fctx.Function,
		LogProject: fctx.Service.LogProject,
		RetryCount: fctx.RetryCount,
		Inited:     initCount.Load(),
		Peak:       peak.Load(),
		Env:        map[string]string{},
	}
	if dl, ok := ctx.Deadline(); ok {
		out.DeadlineMS = time.Until(dl).Milliseconds()
	}
	for _, k := range []string{"FC_FUNCTION_NAME", "FC_REGION", "FC_ACCOUNT_ID", "FC_FUNCTION_HANDLER",
		"FC_FUNCTION_MEMORY_SIZE", "FC_INSTANCE_ID", "FC_FUNC_CODE_PATH", "FC_RUNTIME_API",
		"ALIBABA_CLOUD_ACCESS_KEY_ID", "ECHO_EXTRA"} {
		out.Env[k] = os.Getenv(k)
	}
	if wd, err := os.Getwd(); err == nil {
		out.Env["PWD"] = wd
	}
	return out, nil
}

// httpEcho answers an HTTP trigger event with its decoded body, keeping the
// base64 flag, and reports the request line in headers.
func httpEcho(raw json.RawMessage) (events.HTTPTriggerResponse, error) {
	var req events.HTTPTriggerEvent
	if err := json.Unmarshal(raw, &req); err != nil {
		return events.HTTPTriggerResponse{}, err
	}
	body := deref(req.Body)
	b64 := req.IsBase64Encoded != nil && *req.IsBase64Encoded
	if b64 {
		// Decode then re-encode to prove the payload really was base64.
		dec, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return events.HTTPTriggerResponse{}, err
		}
		body = base64.StdEncoding.EncodeToString(dec)
	}
	query, _ := json.Marshal(req.QueryParameters)
	hc := req.TriggerContext.Http
	return events.HTTPTriggerResponse{
		StatusCode: 201,
		Headers: map[string]string{
			"X-Method":     deref(hc.Method),
			"X-Path":       deref(req.RawPath),
			"X-Source-Ip":  deref(hc.SourceIp),
			"X-User-Agent": deref(hc.UserAgent),
			"X-Query":      string(query),
			"X-Header-In":  (*req.Headers)["X-In"],
		},
		IsBase64Encoded: b64,
		Body:            body,
	}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func main() {
	fc.RegisterInitializerFunction(func(ctx context.Context) {
		if os.Getenv("ECHOFN_INIT_FAIL") != "" {
			panic("initializer asked to fail")
		}
		initCount.Add(1)
	})
	fc.RegisterPreStopFunction(func(ctx context.Context) {
		if path := os.Getenv("ECHOFN_PRESTOP_FILE"); path != "" {
			_ = os.WriteFile(path, []byte("stopped"), 0o644)
		}
	})
	fc.Start(handle)
}
