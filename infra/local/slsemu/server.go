package slsemu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Size limits. The service caps PutLogs far lower; the emulator is generous
// so throughput benchmarks are not constrained, but still bounded so a bad
// request cannot exhaust memory.
const (
	maxBodySize = 64 << 20  // bytes on the wire
	maxRawSize  = 256 << 20 // x-log-bodyrawsize
)

// Options configures a Server.
type Options struct {
	// When AccessKeyID is non-empty every request must be signed (v1
	// HMAC-SHA1 "LOG ak:sig" or v4 SLS4-HMAC-SHA256) with this key and carry
	// x-acs-security-token equal to SecurityToken (absent when empty);
	// otherwise 401 {"errorCode":"Unauthorized"|"SignatureNotMatch"}.
	AccessKeyID, AccessKeySecret, SecurityToken string
	// AutoCreate makes PutLogs to an unknown project/logstore create it
	// (2 shards, 30 days TTL) instead of failing with 404.
	AutoCreate bool
	// Logger receives one debug line per request and warnings for failures.
	// Optional.
	Logger *slog.Logger
	// MaxRequestRecords bounds what Requests returns (the newest ones are
	// kept). 0 means 100000; negative disables recording.
	MaxRequestRecords int
	// Now is the clock for server receive times (GetCursor by time,
	// GetCursorTime) and metadata timestamps. Optional; tests use it to make
	// receive times deterministic.
	Now func() time.Time
	// ETL runs data transformation jobs' deliveries (etl.go). Optional:
	// without it a job fails on start.
	ETL ETLRuntime
}

// Server is the emulator. It is an http.Handler; Start runs it on a
// listener of its own. All methods are safe for concurrent use.
type Server struct {
	opts  Options
	log   *slog.Logger
	creds atomic.Pointer[credentials]
	store *store
	fault faults
	recs  recorder
	sql   sqlTables // GetLogs with SQL
	now   func() time.Time

	extraCreds sync.Map // AccessKeyId -> credentials (AddCredentials)
	etl        etlState
	etlEvery   atomic.Int64

	ridPrefix string
	ridSeq    atomic.Uint64

	mu       sync.Mutex
	listener net.Listener
	httpSrv  *http.Server
	served   chan struct{}
}

// New returns an emulator with no projects.
func New(opts Options) *Server {
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		store:     newStore(),
		now:       time.Now,
		ridPrefix: fmt.Sprintf("%08X", uint32(time.Now().Unix())),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.Now != nil {
		s.now = opts.Now
	}
	s.recs.limit = opts.MaxRequestRecords
	if s.recs.limit == 0 {
		s.recs.limit = defaultMaxRecords
	}
	s.SetCredentials(opts.AccessKeyID, opts.AccessKeySecret, opts.SecurityToken)
	return s
}

// SetCredentials replaces the accepted credentials (tests rotate STS
// credentials with it). An empty ak turns authentication off.
func (s *Server) SetCredentials(ak, secret, token string) {
	s.creds.Store(&credentials{accessKeyID: ak, accessKeySecret: secret, securityToken: token})
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background
// until Close.
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener != nil {
		return errors.New("slsemu: server already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("slsemu: listen on %s: %w", addr, err)
	}
	s.listener = ln
	s.httpSrv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("slsemu: serve stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the host:port the server listens on ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// ProxyURL is "http://127.0.0.1:PORT", suitable for HTTP_PROXY or
// http.ProxyURL. A wildcard listen address is reported as loopback.
func (s *Server) ProxyURL() string {
	addr := s.Addr()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Endpoint is an SLS endpoint string for SDK clients that reach the
// emulator through ProxyURL or HTTPClient. Any host works behind the proxy;
// this one is the emulator's own address.
func (s *Server) Endpoint() string { return s.ProxyURL() }

// HTTPClient returns a client that sends every request through the
// emulator as an HTTP proxy, for sls Client.SetHTTPClient.
func (s *Server) HTTPClient() *http.Client {
	proxy, _ := url.Parse(s.ProxyURL())
	return &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{Proxy: http.ProxyURL(proxy), MaxIdleConnsPerHost: 64},
	}
}

// Close stops the listener started by Start and drops open connections.
func (s *Server) Close() error {
	s.mu.Lock()
	srv, served := s.httpSrv, s.served
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-served
	if err != nil {
		return fmt.Errorf("slsemu: close: %w", err)
	}
	return nil
}

// FailNext makes the next n data-plane requests (GetCursor, GetCursorTime,
// PullLogs, PutLogs) on project/logstore fail with httpStatus and an SLS
// error of the given code. n <= 0 disarms. Note that the SDK retries GETs on
// 5xx (and POSTs on 500/502/503), consuming one failure per attempt.
func (s *Server) FailNext(project, logstore string, n int, httpStatus int, code string) {
	s.fault.arm(project, logstore, n, httpStatus, code)
}

// FailAfter is FailNext after skip requests have gone through: a failure
// in the middle of a range.
func (s *Server) FailAfter(project, logstore string, skip, n int, httpStatus int, code string) {
	s.fault.armFault(project, logstore, n, fault{skip: skip, status: httpStatus, code: code})
}

// DelayAfter answers n data-plane requests on project/logstore d late,
// after skip requests have gone through: a slow service, or an invocation
// that reaches its deadline half-way through a range.
func (s *Server) DelayAfter(project, logstore string, skip, n int, d time.Duration) {
	s.fault.armFault(project, logstore, n, fault{skip: skip, delay: d})
}

// Requests returns the requests seen so far, oldest first.
func (s *Server) Requests() []RequestRecord { return s.recs.snapshot() }

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() { s.recs.reset() }

func (s *Server) nextRequestID() string {
	return fmt.Sprintf("%s%016X", s.ridPrefix, s.ridSeq.Add(1))
}

// statusWriter remembers the status for the request record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// request is the parsed form of one call handed to the handlers.
type request struct {
	r        *http.Request
	project  string
	segments []string // path split on '/', without empty leading element
	query    url.Values
	body     []byte // valid only during the handler; copy to retain
}

// ServeHTTP handles one SLS API request (origin-form or absolute-form).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set("x-log-requestid", s.nextRequestID())

	req := &request{
		r:        r,
		project:  projectFromHost(r.Host),
		segments: splitPath(r.URL.Path),
		query:    r.URL.Query(),
	}
	auth := parseAuthorization(r.Header.Get("Authorization"))
	rec := RequestRecord{
		Time:             s.now(),
		Method:           r.Method,
		Path:             r.URL.Path,
		Query:            r.URL.RawQuery,
		Project:          req.project,
		Logstore:         logstoreFromSegments(req.segments),
		AccessKeyID:      auth.accessKeyID,
		SecurityToken:    r.Header.Get("x-acs-security-token"),
		SignatureVersion: auth.version,
	}

	err := s.serve(sw, req, auth)
	if err != nil {
		ae := asAPIError(err)
		writeAPIError(sw, ae)
		rec.ErrorCode = ae.Code
		level := slog.LevelDebug
		if ae.Status >= 500 {
			level = slog.LevelWarn
		}
		s.log.Log(r.Context(), level, "slsemu: request failed", "method", r.Method, "host", r.Host,
			"path", r.URL.Path, "status", ae.Status, "code", ae.Code, "msg", ae.Message)
	}
	rec.Status = sw.status
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	s.recs.add(rec)
	if s.log.Enabled(r.Context(), slog.LevelDebug) { // keep the hot path allocation-free
		s.log.Debug("slsemu: request", "method", r.Method, "host", r.Host, "path", r.URL.Path,
			"query", r.URL.RawQuery, "status", rec.Status, "took", time.Since(start))
	}
}

// serve reads the body, authenticates, and dispatches.
func (s *Server) serve(w http.ResponseWriter, req *request, auth authHeader) error {
	bp, err := readBody(req.r)
	if err != nil {
		return err
	}
	defer putBuf(bp)
	req.body = *bp

	if c := s.creds.Load(); c.accessKeyID != "" {
		if err := verifyRequest(req.r, req.body, auth, s.credentialsFor(auth.accessKeyID, *c)); err != nil {
			return err
		}
	}
	return s.route(w, req)
}

// readBody reads the whole request body into a pooled buffer; the caller
// must putBuf it. The body is needed up front because signatures cover it.
func readBody(r *http.Request) (*[]byte, error) {
	if r.ContentLength > maxBodySize {
		return nil, newAPIError(http.StatusRequestEntityTooLarge, codePostBodyTooLarge,
			"body of %d bytes exceeds %d", r.ContentLength, maxBodySize)
	}
	size := max(int(r.ContentLength), 0)
	bp := getBuf(size)
	if r.ContentLength >= 0 {
		if _, err := io.ReadFull(r.Body, *bp); err != nil {
			putBuf(bp)
			return nil, newAPIError(http.StatusBadRequest, codePostBodyInvalid, "read body: %v", err)
		}
		return bp, nil
	}
	// Unknown length (chunked, rare): read with a bound, unpooled.
	putBuf(bp)
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxBodySize+1))
	if err != nil {
		return nil, newAPIError(http.StatusBadRequest, codePostBodyInvalid, "read body: %v", err)
	}
	if len(buf) > maxBodySize {
		return nil, newAPIError(http.StatusRequestEntityTooLarge, codePostBodyTooLarge, "body exceeds %d bytes", maxBodySize)
	}
	return &buf, nil
}

// projectFromHost takes the project from "{project}.{endpoint}[:port]".
// A bare IP or single-label host (project-less calls such as ListProject)
// has no project.
func projectFromHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" || net.ParseIP(strings.Trim(host, "[]")) != nil {
		return ""
	}
	// A bare regional endpoint ("cn-hangzhou.log.aliyuncs.com") is a
	// project-less call too, not project "cn-hangzhou".
	if strings.HasSuffix(host, ".log.aliyuncs.com") && strings.Count(host, ".") == 3 {
		return ""
	}
	project, _, ok := strings.Cut(host, ".")
	if !ok {
		return ""
	}
	return project
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func logstoreFromSegments(seg []string) string {
	if len(seg) >= 2 && seg[0] == "logstores" {
		return seg[1]
	}
	return ""
}

// unixNow is the emulator's clock in unix seconds.
func (s *Server) unixNow() int64 { return s.now().Unix() }

// atoiParam parses an integer query parameter.
func atoiParam(q url.Values, name string) (int, bool, error) {
	v := q.Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, true, newAPIError(http.StatusBadRequest, codeParameterInvalid, "%s must be an integer, got %q", name, v)
	}
	return n, true, nil
}
