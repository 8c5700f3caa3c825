package openapiemu

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
