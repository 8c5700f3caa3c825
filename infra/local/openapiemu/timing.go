package openapiemu

import (
	"sort"
	"time"
)

// Control-plane timing, as the real services behave: a change is accepted at
// once and takes effect later. Until then a NAT gateway is "Modifying" (and
// its session log not yet switched), an ALB is "Configuring" and the job of
// its EnableLoadBalancerAccessLog or DisableLoadBalancerAccessLog (the
// JobId, seen through ListAsynJobs) is "Processing", and a CLB's access-log
// setting is not yet visible. A second change of a busy resource answers
// IncorrectStatus.NatGateway, Conflict.Lock (ALB) or OperationConflict
// (CLB): the codes the services document for overlapping operations (which
// code each service answers in exactly this case is UNVERIFIED).
//
// Changes are applied lazily: every request (and every accessor) first
// applies those whose time has come, so no timer runs behind the tests.

// DefaultControlPlaneDelay is how long a change takes unless
// SetControlPlaneDelay says otherwise: short, yet long enough that a client
// that does not wait for completion sees the old state.
const DefaultControlPlaneDelay = 300 * time.Millisecond

type pendingOp struct {
	key   resKey
	api   string
	done  time.Time
	apply func()
	jobID string
	// failed: the change ends in failure. Nothing is applied, except on a
	// NAT gateway, which keeps the configuration and reports its delivery
	// "Failure" (as when the logstore or the delivery role is missing).
	failed bool
	over   bool // applied (or failed)
}

type timing struct {
	delay    time.Duration
	failNext int                   // changes still to fail (FailNextChanges)
	pending  map[resKey]*pendingOp // at most one change in flight per resource
	jobs     map[string]*pendingOp // JobId ->
}

func newTiming() timing {
	return timing{delay: DefaultControlPlaneDelay, pending: map[resKey]*pendingOp{}, jobs: map[string]*pendingOp{}}
}

// SetControlPlaneDelay makes changes accepted from now on take effect d
// later; 0 applies them at once (the emulator's behaviour before timing was
// modelled).
func (s *Server) SetControlPlaneDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timing.delay = max(d, 0)
}

// FailNextChanges makes the next n accepted changes fail when they are due:
// the ALB job ends "Failed" and nothing changes, a CLB does not change, a
// NAT gateway takes the change and its delivery status reads "Failure".
func (s *Server) FailNextChanges(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timing.failNext = n
}

// CompleteChanges makes every change in flight due now (a slow job that
// finally completes).
func (s *Server) CompleteChanges() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, op := range s.timing.pending {
		op.done = now
	}
	s.settle()
}

// PendingChanges counts the changes accepted and not yet applied.
func (s *Server) PendingChanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	return len(s.timing.pending)
}

// settle applies the changes whose time has come, oldest first. Runs with
// s.mu held.
func (s *Server) settle() {
	now := s.now()
	var due []*pendingOp
	for k, op := range s.timing.pending {
		if !now.Before(op.done) {
			due = append(due, op)
			delete(s.timing.pending, k)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].done.Before(due[j].done) })
	for _, op := range due {
		s.finish(op)
	}
}

func (s *Server) finish(op *pendingOp) {
	op.over = true
	if !op.failed || op.api == "ModifyNatGatewayAttribute" {
		op.apply()
	}
}

// busy answers code when the resource has a change in flight.
func (s *Server) busy(k resKey, code, what string) *apiError {
	if _, ok := s.timing.pending[k]; ok {
		return errorf(statusFor(code), code, "The "+what+" "+k.id+" is being modified by another operation. Try again later.")
	}
	return nil
}

// later applies a change after the delay (at once without one); it returns
// the JobId that tracks it. Runs with s.mu held.
func (s *Server) later(k resKey, api string, apply func()) string {
	op := &pendingOp{key: k, api: api, done: s.now().Add(s.timing.delay), apply: apply, jobID: newJobID()}
	if s.timing.failNext > 0 {
		s.timing.failNext--
		op.failed = true
	}
	s.timing.jobs[op.jobID] = op
	if s.timing.delay <= 0 {
		s.finish(op)
		return op.jobID
	}
	s.timing.pending[k] = op
	return op.jobID
}

// inFlight reports a change of k not yet applied.
func (s *Server) inFlight(k resKey) bool {
	_, ok := s.timing.pending[k]
	return ok
}

// lastFailed reports whether the last change of k that completed failed.
func (s *Server) lastFailed(k resKey) bool {
	var last *pendingOp
	for _, op := range s.timing.jobs {
		if op.key == k && op.over && (last == nil || op.done.After(last.done)) {
			last = op
		}
	}
	return last != nil && last.failed
}

// listAsynJobs is ALB's ListAsynJobs: the status of asynchronous calls'
// jobs (Succeeded, Failed or Processing), for the caller's account and
// region only.
func (s *Server) listAsynJobs(c *call) (map[string]any, *apiError) {
	ids := c.p.list("JobIds")
	jobs := []any{}
	for _, id := range ids {
		op, ok := s.timing.jobs[id]
		if !ok || op.key.account != c.account || op.key.region != c.region {
			continue
		}
		j := map[string]any{
			"Id": id, "ApiName": op.api, "ResourceId": op.key.id, "ResourceType": "loadbalancer",
			"Status": "Processing", "CreateTime": op.done.Add(-s.timing.delay).UnixMilli(),
		}
		switch {
		case op.over && op.failed:
			j["Status"], j["ErrorCode"], j["ErrorMessage"] = "Failed", "InternalError", "The job failed (injected by the emulator)."
			j["ModifyTime"] = op.done.UnixMilli()
		case op.over:
			j["Status"], j["ModifyTime"] = "Succeeded", op.done.UnixMilli()
		}
		jobs = append(jobs, j)
	}
	return map[string]any{"Jobs": jobs, "TotalCount": len(jobs)}, nil
}
