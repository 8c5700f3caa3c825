package onboard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
)

// The control plane applies a change some time after the call returns: an
// ALB answers with a job (ListAsynJobs follows it), a NAT gateway is
// "Modifying", a CLB's setting shows up later. A change made while another
// is in progress is refused (IncorrectStatus.*, Conflict.Lock,
// OperationConflict). So onboarding retries refused changes with backoff,
// then waits for what it changed to take effect, and only then counts the
// asset as logging: coverage starts when the change is seen complete, not
// at the call. Both waits end at the region's wait deadline (ChangeWait,
// within the invocation's deadline); what is not complete by then is
// reported (RegionResult.Pending) and the next run looks again.

// check reports whether a change has taken effect. err is a definite
// failure (a failed job, a failing delivery); state describes what was
// seen while not done, for the report.
type check func(ctx context.Context) (done bool, state string, err error)

// inflight is a change made in this run, awaiting completion.
type inflight struct {
	id, what string // the asset and "enable access log of alb alb-..."
	enable   bool
	idx      int // in the region's next inventory
	check    check
	state    string    // last seen, while not done
	doneAt   time.Time // when seen complete
	err      error     // failed for good
}

// Backoff of the waits: the first poll comes soon (the emulator's changes
// take a fraction of a second; the services' seconds), later ones spread out.
const (
	pollFirst   = 250 * time.Millisecond
	pollMax     = 10 * time.Second
	retryFirst  = 500 * time.Millisecond
	retryMax    = 15 * time.Second
	waitReserve = 5 * time.Second // of the invocation's time, for writing the inventory
)

// waitDeadline is when a region's waits end: ChangeWait from now, and
// waitReserve before the invocation's deadline.
func (r *Runner) waitDeadline(ctx context.Context) time.Time {
	w := r.Config.ChangeWait
	if w <= 0 {
		w = DefaultChangeWait
	}
	until := time.Now().Add(w)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-waitReserve).Before(until) {
		until = dl.Add(-waitReserve)
	}
	return until
}

// sleepUntil sleeps d unless that passes until or ctx ends first; false
// when it did not sleep.
func sleepUntil(ctx context.Context, d time.Duration, until time.Time) bool {
	if time.Now().Add(d).After(until) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter spreads d over [d/2, d].
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// start makes a change, retrying while the resource is busy with another
// operation.
func start(ctx context.Context, until time.Time, change func(context.Context) (check, error)) (check, error) {
	d := retryFirst
	for n := 1; ; n++ {
		chk, err := change(ctx)
		if err == nil || !cloud.IsConflict(err) {
			return chk, err
		}
		if !sleepUntil(ctx, jitter(d), until) {
			return nil, fmt.Errorf("%w (the resource stayed busy through %d attempts; the next run tries again)", err, n)
		}
		d = min(2*d, retryMax)
	}
}

// await polls the changes until each is complete, failed, or until passes.
// Changes are polled together, so that a region's wait is that of its
// slowest change, not their sum.
func (r *Runner) await(ctx context.Context, until time.Time, changes []*inflight) {
	d := pollFirst
	for {
		open := 0
		for _, c := range changes {
			if !c.doneAt.IsZero() || c.err != nil {
				continue
			}
			done, state, err := c.check(ctx)
			switch {
			case err != nil:
				c.err = err
			case done:
				c.doneAt = r.now()
			default:
				c.state = state
				open++
			}
		}
		if open == 0 || !sleepUntil(ctx, jitter(d), until) {
			return
		}
		d = min(2*d, pollMax)
	}
}

// settle waits for a region's changes and records the outcome in the
// inventory entries and the result: an enabled asset is logging, with
// coverage from the second its change was seen complete.
func (r *Runner) settle(ctx context.Context, until time.Time, changes []*inflight, next []inventory.Asset, res *RegionResult) {
	if len(changes) == 0 {
		return
	}
	wait := time.Until(until).Round(time.Second)
	r.await(ctx, until, changes)
	for _, c := range changes {
		a := &next[c.idx]
		switch {
		case c.err != nil:
			res.Failed = append(res.Failed, Reasoned{c.id, c.what + ": " + c.err.Error()})
		case c.doneAt.IsZero():
			res.Pending = append(res.Pending, Reasoned{c.id, fmt.Sprintf(
				"%s: not complete within %v (%s); the next run checks again", c.what, wait, c.state)})
		case c.enable:
			a.Logging, a.Since = inventory.LogOn, toSecond(c.doneAt)
			res.Enabled = append(res.Enabled, c.id)
			continue
		default:
			res.Disabled = append(res.Disabled, c.id)
			continue
		}
		if c.enable {
			// Not known to log: not covered until a run sees it logging.
			a.Logging, a.Since = inventory.LogOff, time.Time{}
		}
	}
}

// toSecond is the second t falls in: the inventory, the alerts' times and
// the logs' all count whole seconds, so coverage starts with the second in
// which logging did.
func toSecond(t time.Time) time.Time { return t.Truncate(time.Second).UTC() }

// The checks of each kind of change.

func natCheck(cl Cloud, region, id, dest string, on bool) check {
	return func(ctx context.Context) (bool, string, error) {
		g, err := cl.NATGatewayState(ctx, region, id)
		if err != nil {
			return false, "reading its state failed: " + err.Error(), nil
		}
		state := fmt.Sprintf("status %s, session log on %v", g.Status, g.SessionLogEnabled)
		if g.Status == cloud.NATStatusModifying || g.SessionLogEnabled != on || (on && g.LogDestination != dest) {
			return false, state, nil
		}
		if on && g.DeliveryFailed() {
			return false, state, fmt.Errorf("the session-log delivery status is %q", g.DeliveryStatus)
		}
		return true, state, nil
	}
}

func albCheck(cl Cloud, region, id, jobID string, want cloud.AccessLog) check {
	return func(ctx context.Context) (bool, string, error) {
		if jobID != "" {
			j, ok, err := cl.ALBJob(ctx, region, jobID)
			switch {
			case err != nil:
				return false, "reading job " + jobID + " failed: " + err.Error(), nil
			case ok && j.Status == cloud.JobSucceeded:
				return true, "", nil
			case ok && j.Status == cloud.JobFailed:
				return false, "", fmt.Errorf("job %s failed: %s: %s", jobID, j.ErrorCode, j.ErrorMessage)
			case ok:
				return false, "job " + jobID + " " + j.Status, nil
			}
		}
		// No job to follow (none answered, or no longer listed): the
		// configuration itself says whether the change is in.
		al, status, err := cl.ALBAccessLog(ctx, region, id)
		if err != nil {
			return false, "reading its access log failed: " + err.Error(), nil
		}
		state := "status " + status
		return al == want && status != "Configuring", state, nil
	}
}

func clbCheck(cl Cloud, region, id string, want cloud.AccessLog) check {
	return func(ctx context.Context) (bool, string, error) {
		al, err := cl.CLBAccessLog(ctx, region, id)
		if err != nil {
			return false, "reading its access log failed: " + err.Error(), nil
		}
		if al != want {
			return false, "access log not yet configured as asked", nil
		}
		return true, "", nil
	}
}
