package openapiemu

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is the emulator. Its zero value is not usable; call New.
type Server struct {
	mu       sync.Mutex
	keys     map[string]*accessKey // AccessKeyId ->
	roles    map[string]*role      // lower-case ARN ->
	nats     map[resKey]*NATGateway
	albs     map[resKey]*ALB
	clbs     map[resKey]*CLB
	enis     map[resKey]*ENI
	faults   map[string][]fault  // action ("*" for any) -> queued failures
	regionFx map[string]string   // region -> error code for every call there
	netFx    map[string]netFault // region -> stall or drop of every call there
	nonces   map[string]time.Time
	calls    []Call
	now      func() time.Time
	timing   timing // changes accepted, not yet applied (timing.go)

	srv *http.Server
	ln  net.Listener
}

// resKey addresses a resource: resources are private to an account and a
// region, as in the cloud.
type resKey struct{ account, region, id string }

// New returns an empty emulator.
func New() *Server {
	return &Server{
		keys:     map[string]*accessKey{},
		roles:    map[string]*role{},
		nats:     map[resKey]*NATGateway{},
		albs:     map[resKey]*ALB{},
		clbs:     map[resKey]*CLB{},
		enis:     map[resKey]*ENI{},
		faults:   map[string][]fault{},
		regionFx: map[string]string{},
		netFx:    map[string]netFault{},
		nonces:   map[string]time.Time{},
		now:      time.Now,
		timing:   newTiming(),
	}
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in the
// background.
func (s *Server) Start(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("openapiemu: listen %s: %w", addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	// Serve's error has no one to go to: after Close it is ErrServerClosed,
	// otherwise callers see connection errors.
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Addr is the listening address (host:port), empty before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// ProxyURL is the value for HTTP_PROXY that routes the SDK to the emulator.
func (s *Server) ProxyURL() string { return "http://" + s.Addr() }

// Close stops serving.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}
