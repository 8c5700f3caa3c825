package pending

import (
	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/results"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// New wires late resolution from the environment; nil when
// TRACE_LATE_WINDOW is 0. tracer answers the late looks; nil builds the
// one ingest uses: the mapping store, and the inventory's address book with
// the static one as fallback, as trace has, naming instances from the
// address history onboarding keeps (without trace's ECS fallback: ingest
// makes no cloud call).
func New(a *app.App, tracer *trace.Tracer) *Keeper {
	c := a.Config
	if c.LateWindow <= 0 {
		return nil
	}
	if tracer == nil {
		inv := inventory.New(a.Redis)
		tracer = &trace.Tracer{Store: a.Store, Book: inv.WithFallback(a.Book), Assets: &inventory.Resolver{Inv: inv},
			Config: trace.Config{MaxWait: c.TraceMaxWait, Skew: c.TimeSkew}}
	}
	k := &Keeper{RDB: a.Redis, Window: c.LateWindow, Skew: c.TimeSkew, Tracer: tracer}
	if r := c.Results; r.Enabled() {
		k.Recorder = &results.SLS{Endpoint: r.Endpoint, Project: r.Project, Logstore: r.Logstore}
	}
	if c.CallbackURL != "" {
		k.Callback = &Callback{URL: c.CallbackURL, Secret: c.WebhookSecret}
	}
	return k
}
