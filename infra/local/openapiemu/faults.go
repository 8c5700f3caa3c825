package openapiemu

import (
	"net/http"
	"time"
)

// fault is one queued injected failure.
type fault struct {
	code   string
	status int
}

// FailNext makes the next n calls of action ("*" for any action) fail with
// code after authentication; httpStatus 0 picks the service's usual status
// (Throttling.User: 400, ServiceUnavailable: 503, ...).
func (s *Server) FailNext(action string, n int, code string, httpStatus int) {
	if httpStatus == 0 {
		httpStatus = statusFor(code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[action] = append(s.faults[action], fault{code: code, status: httpStatus})
	}
}

// FailRegion makes every call in region fail with code, until called again
// with an empty code.
func (s *Server) FailRegion(region, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.regionFx, region)
		return
	}
	s.regionFx[region] = code
}

// injectedFault consumes a queued failure for c, if any. Runs with s.mu held.
func (s *Server) injectedFault(c *call) *apiError {
	if code, ok := s.regionFx[c.region]; ok && c.region != "" {
		return errorf(statusFor(code), code, messageFor(code))
	}
	for _, key := range []string{c.action, "*"} {
		if q := s.faults[key]; len(q) > 0 {
			f := q[0]
			s.faults[key] = q[1:]
			return errorf(f.status, f.code, messageFor(f.code))
		}
	}
	return nil
}

// netFault is how a region's endpoint misbehaves below the API: it stalls
// every call, or it drops every connection.
type netFault struct {
	stall time.Duration
	drop  bool
}

// StallRegion delays every call in region by d before answering it (a
// slow or hung endpoint); 0 ends the stall. A client that gives up earlier
// only sees its own timeout.
func (s *Server) StallRegion(region string, d time.Duration) {
	s.setNetFault(region, netFault{stall: d})
}

// DropRegion makes the endpoint of region unreachable: every call's
// connection is closed without an answer, as a refused or reset
// connection looks to the client. false ends it.
func (s *Server) DropRegion(region string, drop bool) {
	s.setNetFault(region, netFault{drop: drop})
}

func (s *Server) setNetFault(region string, f netFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (netFault{}) {
		delete(s.netFx, region)
		return
	}
	s.netFx[region] = f
}

// networkFault applies a region's network fault to a request; false when
// the request has been dealt with (dropped, or its client went away while
// stalled). The call is recorded either way, so that tests can count what
// reached the endpoint.
func (s *Server) networkFault(r *http.Request, c *call) bool {
	s.mu.Lock()
	f, ok := s.netFx[c.region]
	s.mu.Unlock()
	if !ok || c.region == "" {
		return true
	}
	if f.drop {
		s.record(c, errorf(0, "ConnectionDropped", "dropped by DropRegion"))
		// The server closes the connection without an answer (also when a
		// proxy in front passes its own writer).
		panic(http.ErrAbortHandler)
	}
	t := time.NewTimer(f.stall)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		s.record(c, errorf(0, "ClientGone", "the client gave up during StallRegion"))
		return false
	}
}
