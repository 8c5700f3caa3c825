package trace

import (
	"context"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// Final is an alert whose answer is final, with the lookups that answered
// it (none when it was answered before any: not covered, or an error).
type Final struct {
	Alert   *alert.Alert
	Result  *alert.Result
	Queries []store.Query
}

// finishGrace is how far past the wall keeping answers for late resolution
// may run: naming may take NameGrace (500ms) of the second the contract
// allows, recording the rest.
const finishGrace = 700 * time.Millisecond

// Finisher sees every answer once it is final, before Trace returns: late
// resolution keeps untraced alerts pending (and may set PendingUntil) and
// traced ones open to corrections.
type Finisher interface {
	Finish(ctx context.Context, finals []Final)
}

// finish hands the answers to t.Finish, if any.
func (t *Tracer) finish(ctx context.Context, alerts []*alert.Alert, results []alert.Result, plans []*pending, by time.Time) {
	if t.Finish == nil {
		return
	}
	var cancel context.CancelFunc
	if ctx.Err() != nil {
		// A cancelled trace still answers: keep its answers on a short
		// leash of their own.
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), lastLook)
	} else {
		// A slow Redis must not hold the answer past the wall's second.
		ctx, cancel = context.WithDeadline(ctx, by)
	}
	defer cancel()
	finals := make([]Final, len(alerts))
	for i, a := range alerts {
		finals[i] = Final{Alert: a, Result: &results[i]}
		if p := plans[i]; p != nil {
			for _, s := range p.sides {
				finals[i].Queries = append(finals[i].Queries, s.query)
			}
		}
	}
	t.Finish.Finish(ctx, finals)
}

// Once is t answering from what the store holds now, without waiting and
// without Finish or coverage: the look late resolution takes when a record
// lands, with the tracer's own matching and resolution.
func (t *Tracer) Once() *Tracer {
	c := *t
	c.Finish, c.Coverage, c.Waker = nil, nil, nil
	c.Config.MaxWait = time.Nanosecond
	return &c
}
