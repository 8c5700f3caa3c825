package traceapi

import (
	"context"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/pending"
	"github.com/ndrtrace/ndrtrace/shared/results"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// New wires the trace function. The inventory that onboard keeps is its
// address book (the static EGRESS_ADDRESSES stand in for addresses it does
// not know, which is every address until onboarding has run), its coverage
// oracle, and, through ECS, the namer of the instance behind a private
// endpoint.
func New(a *app.App, cloudCfg cloud.Config) *Handler {
	inv := inventory.New(a.Redis)
	h := &Handler{
		Tracer: &trace.Tracer{
			Store:    a.Store,
			Book:     inv.WithFallback(a.Book),
			Waker:    trace.NewWaker(context.Background(), a.Redis),
			Coverage: inv,
			Assets:   &inventory.Resolver{Inv: inv, Finder: &inventory.CloudFinder{Inv: inv, Config: cloudCfg}},
			Config: trace.Config{MaxWait: a.Config.TraceMaxWait, Skew: a.Config.TimeSkew,
				MinBackoff: a.Config.TraceMinBackoff, MaxBackoff: a.Config.TraceMaxBackoff},
		},
		Secret:  a.Config.WebhookSecret,
		Replays: &webhook.Replays{Redis: a.Redis},
	}
	if h.Late = pending.New(a, h.Tracer); h.Late != nil {
		h.Tracer.Finish = h.Late
	}
	if r := a.Config.Results; r.Enabled() {
		h.Recorder = &results.SLS{Endpoint: r.Endpoint, Project: r.Project, Logstore: r.Logstore}
	}
	return h
}
