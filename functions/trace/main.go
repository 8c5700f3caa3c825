// Command trace is the alert function: for each alert it finds the private
// endpoint behind the shared public address, waiting up to TRACE_MAX_WAIT
// for late logs, and returns and records the result with the alert.
package main

import (
	"context"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/results"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
)

func main() {
	a := app.Must()
	h := &traceapi.Handler{
		Tracer: &trace.Tracer{
			Store:  a.Store,
			Book:   a.Book,
			Waker:  trace.NewWaker(context.Background(), a.Redis),
			Config: trace.Config{MaxWait: a.Config.TraceMaxWait, Skew: a.Config.TimeSkew},
		},
		Secret: a.Config.WebhookSecret,
	}
	if r := a.Config.Results; r.Enabled() {
		h.Recorder = &results.SLS{Endpoint: r.Endpoint, Project: r.Project, Logstore: r.Logstore}
	}
	fc.Start(h.Handle)
}
