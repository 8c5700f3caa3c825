package openapiemu

import (
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// versions maps API versions to products.
var versions = map[string]string{
	"2016-04-28": "vpc",
	"2020-06-16": "alb",
	"2014-05-15": "slb",
	"2014-05-26": "ecs",
	"2015-04-01": "sts",
	"2015-05-01": "ram",
}

// call is one decoded request on its way through the handlers.
type call struct {
	method    string
	host      string
	product   string
	action    string
	region    string
	account   string
	keyID     string
	requestID string
	p         params
}

// readParams merges the query and a form body: the v1 SDK puts RPC
// parameters in the query, other clients may POST them as a form. Both are
// covered by the signature.
func readParams(r *http.Request) (params, error) {
	p := params{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	for k, v := range form {
		if _, dup := p[k]; !dup && len(v) > 0 {
			p[k] = v[0]
		}
	}
	return p, nil
}

// productOf prefers the API version; the host's first label (vpc.x,
// ecs-cn-hangzhou.x, ...) is the fallback.
func productOf(version, host string) string {
	if p, ok := versions[version]; ok {
		return p
	}
	h := strings.ToLower(host)
	if i := strings.IndexAny(h, ".-:"); i >= 0 {
		h = h[:i]
	}
	for _, p := range versions {
		if h == p {
			return p
		}
	}
	return ""
}

// ServeHTTP answers one RPC request, whether sent to the emulator directly
// or through it as an HTTP proxy.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := requestID()
	host := r.Host
	if r.Method == http.MethodConnect {
		writeError(w, rid, host, errorf(405, "UnsupportedOperation",
			"The local OpenAPI emulator speaks plain HTTP only: use scheme http."))
		return
	}
	p, err := readParams(r)
	if err != nil {
		writeError(w, rid, host, errorf(400, "InvalidParameter", "Unreadable request body: "+err.Error()))
		return
	}
	c := &call{
		method: r.Method, host: host, requestID: rid, p: p,
		action: p["Action"], region: p["RegionId"], keyID: p["AccessKeyId"],
		product: productOf(p["Version"], host),
	}
	if !s.networkFault(r, c) {
		return
	}
	body, apiErr := s.handle(c)
	s.record(c, apiErr)
	if apiErr != nil {
		writeError(w, rid, host, apiErr)
		return
	}
	body["RequestId"] = rid
	writeJSON(w, http.StatusOK, body)
}

// handle authenticates, applies injected faults and dispatches.
func (s *Server) handle(c *call) (map[string]any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.action == "" {
		return nil, missing("Action")
	}
	if e := s.authenticate(c); e != nil {
		return nil, e
	}
	s.settle()
	if e := s.injectedFault(c); e != nil {
		return nil, e
	}
	h, ok := handlers[c.product][c.action]
	if !ok {
		return nil, errorf(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
	}
	if c.product != "sts" && c.product != "ram" && c.region == "" { // global services
		return nil, missing("RegionId")
	}
	return h(s, c)
}

func (s *Server) record(c *call, e *apiError) {
	ps := maps.Clone(c.p)
	delete(ps, "Signature")
	delete(ps, "SecurityToken")
	rec := Call{
		Time: s.now(), Host: c.host, Product: c.product, Action: c.action, Account: c.account, Region: c.region,
		AccessKeyID: c.keyID, Params: ps, HTTPStatus: http.StatusOK,
	}
	if e != nil {
		rec.Code, rec.HTTPStatus = e.code, e.status
	}
	s.mu.Lock()
	s.calls = append(s.calls, rec)
	s.mu.Unlock()
}

// handler answers one action; it runs with s.mu held.
type handler func(s *Server, c *call) (map[string]any, *apiError)

var handlers map[string]map[string]handler

func init() {
	handlers = map[string]map[string]handler{
		"vpc": {
			"DescribeNatGateways":       (*Server).describeNatGateways,
			"GetNatGatewayAttribute":    (*Server).getNatGatewayAttribute,
			"ModifyNatGatewayAttribute": (*Server).modifyNatGatewayAttribute,
		},
		"alb": {
			"ListLoadBalancers":           (*Server).listLoadBalancers,
			"GetLoadBalancerAttribute":    (*Server).getLoadBalancerAttribute,
			"EnableLoadBalancerAccessLog": (*Server).enableLoadBalancerAccessLog,
			"ListAsynJobs":                (*Server).listAsynJobs,
		},
		"slb": {
			"DescribeLoadBalancers":               (*Server).describeLoadBalancers,
			"DescribeAccessLogsDownloadAttribute": (*Server).describeAccessLogsDownloadAttribute,
			"SetAccessLogsDownloadAttribute":      (*Server).setAccessLogsDownloadAttribute,
		},
		"ecs": {
			"DescribeNetworkInterfaces": (*Server).describeNetworkInterfaces,
		},
		"sts": {
			"AssumeRole": (*Server).assumeRole,
		},
		"ram": {
			"GetRole":                 (*Server).getRole,
			"CreateServiceLinkedRole": (*Server).createServiceLinkedRole,
		},
	}
	for product, hs := range logOffHandlers {
		for action, h := range hs {
			handlers[product][action] = h
		}
	}
}
