// Command trace is the alert function: for each alert it finds the private
// endpoint behind the shared public address, waiting up to TRACE_MAX_WAIT
// for late logs, and returns and records the result with the alert.
//
// The inventory that onboard keeps is its address book (the static
// EGRESS_ADDRESSES stand in for addresses it does not know, which is every
// address until onboarding has run), its coverage oracle, and, through ECS,
// the namer of the instance behind a private endpoint.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/results"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
)

func main() {
	a := app.Must()
	cloudCfg, err := cloud.ConfigFromEnv(os.Getenv)
	if err != nil {
		fcenv.Logger(context.Background()).Error("configuration", slog.String("err", err.Error()))
		os.Exit(1)
	}
	inv := inventory.New(a.Redis)
	h := &traceapi.Handler{
		Tracer: &trace.Tracer{
			Store:    a.Store,
			Book:     inv.WithFallback(a.Book),
			Waker:    trace.NewWaker(context.Background(), a.Redis),
			Coverage: inv,
			Assets:   &inventory.Resolver{Inv: inv, Finder: &inventory.CloudFinder{Inv: inv, Config: cloudCfg}},
			Config:   trace.Config{MaxWait: a.Config.TraceMaxWait, Skew: a.Config.TimeSkew},
		},
		Secret: a.Config.WebhookSecret,
	}
	if r := a.Config.Results; r.Enabled() {
		h.Recorder = &results.SLS{Endpoint: r.Endpoint, Project: r.Project, Logstore: r.Logstore}
	}
	fc.Start(h.Handle)
}
