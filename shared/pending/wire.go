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
// the static one as fallback, as trace has (without naming instances, which
// is a cloud call ingest does not make).
func New(a *app.App, tracer *trace.Tracer) *Keeper {
	c := a.Config
	if c.LateWindow <= 0 {
		return nil
	}
	if tracer == nil {
		tracer = &trace.Tracer{Store: a.Store, Book: inventory.New(a.Redis).WithFallback(a.Book),
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
