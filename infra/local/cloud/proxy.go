package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

// front is the one HTTP proxy the functions get as HTTP_PROXY. It routes
// by host: SLS hosts (*.log.aliyuncs.com, which carry the project as first
// label) go to an SLS emulator, everything else (vpc., alb., slb., ecs.,
// sts. ...aliyuncs.com over scheme http) to the OpenAPI emulator. Both are
// served in process.
//
// Each account has its own SLS, as in the cloud. The own account's is
// Cloud.SLS; a member account's is created on first use. Requests are told
// apart by the AccessKeyId they are signed with: the front learns the keys
// STS hands out from the AssumeRole answers it relays (the role ARN names
// the account), and the member's emulator then verifies the signature with
// that key's secret and token.
type front struct {
	own     *slsemu.Server
	ownAcct string
	api     *openapiemu.Server

	mu      sync.Mutex
	keys    map[string]stsKey     // AccessKeyId -> credentials STS issued
	members map[string]*memberSLS // account -> its SLS
	srv     *http.Server
	etl     func(account string) slsemu.ETLRuntime // runs a member SLS's ETL jobs
}

type stsKey struct {
	account, secret, token string
}

// memberSLS serialises a member's SLS: its accepted credentials are set to
// the ones of each request before serving it.
type memberSLS struct {
	mu  sync.Mutex
	srv *slsemu.Server
}

func newFront(own *slsemu.Server, ownAccount string, api *openapiemu.Server) *front {
	return &front{
		own: own, ownAcct: ownAccount, api: api,
		keys: map[string]stsKey{}, members: map[string]*memberSLS{},
	}
}

func (f *front) start() (string, error) {
	ln, e := net.Listen("tcp", "127.0.0.1:0")
	if e != nil {
		return "", fmt.Errorf("start the front proxy: %w", e)
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

func (f *front) close() {
	if f.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if e := f.srv.Shutdown(ctx); e != nil {
		_ = f.srv.Close()
	}
}

// isSLSHost reports an SLS endpoint or project host.
func isSLSHost(host string) bool {
	if h, _, e := net.SplitHostPort(host); e == nil {
		host = h
	}
	host = strings.ToLower(host)
	return strings.HasSuffix(host, ".log.aliyuncs.com") || strings.HasSuffix(host, ".sls.aliyuncs.com")
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	if isSLSHost(host) {
		f.serveSLS(w, r)
		return
	}
	rec := &capture{ResponseWriter: w}
	f.api.ServeHTTP(rec, r)
	if rec.status == http.StatusOK && bytes.Contains(rec.body.Bytes(), []byte(`"AssumedRoleUser"`)) {
		f.learn(rec.body.Bytes())
	}
}

// serveSLS picks the SLS of the account the request is signed for.
func (f *front) serveSLS(w http.ResponseWriter, r *http.Request) {
	ak := accessKeyOf(r.Header.Get("Authorization"))
	f.mu.Lock()
	k, issued := f.keys[ak]
	var m *memberSLS
	if issued && k.account != f.ownAcct {
		m = f.memberLocked(k.account)
	}
	f.mu.Unlock()
	if m == nil {
		f.own.ServeHTTP(w, r)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.srv.SetCredentials(ak, k.secret, k.token)
	m.srv.ServeHTTP(w, r)
}

func (f *front) memberLocked(account string) *memberSLS {
	m, ok := f.members[account]
	if !ok {
		// Authentication on from the start: credentials are set per request.
		opts := slsemu.Options{AccessKeyID: "STS.unset", AccessKeySecret: "unset"}
		if f.etl != nil {
			opts.ETL = f.etl(account)
		}
		m = &memberSLS{srv: slsemu.New(opts)}
		f.members[account] = m
	}
	return m
}

// member returns (creating) an account's SLS.
func (f *front) member(account string) *slsemu.Server {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.memberLocked(account).srv
}

// learn records the credentials of an AssumeRole answer.
func (f *front) learn(body []byte) {
	var ans struct {
		Credentials struct {
			AccessKeyID     string `json:"AccessKeyId"`
			AccessKeySecret string `json:"AccessKeySecret"`
			SecurityToken   string `json:"SecurityToken"`
		} `json:"Credentials"`
		AssumedRoleUser struct {
			Arn string `json:"Arn"`
		} `json:"AssumedRoleUser"`
	}
	if json.Unmarshal(body, &ans) != nil || ans.Credentials.AccessKeyID == "" {
		return
	}
	// acs:ram::<account>:role/<name>/<session>
	parts := strings.SplitN(ans.AssumedRoleUser.Arn, ":", 5)
	if len(parts) != 5 || parts[3] == "" {
		return
	}
	f.mu.Lock()
	f.keys[ans.Credentials.AccessKeyID] = stsKey{account: parts[3], secret: ans.Credentials.AccessKeySecret, token: ans.Credentials.SecurityToken}
	f.mu.Unlock()
}

// accessKeyOf reads the AccessKeyId of an SLS Authorization header: v1
// "LOG <ak>:<sig>" or v4 "SLS4-HMAC-SHA256 Credential=<ak>/...".
func accessKeyOf(auth string) string {
	if rest, ok := strings.CutPrefix(auth, "LOG "); ok {
		ak, _, _ := strings.Cut(rest, ":")
		return ak
	}
	if _, rest, ok := strings.Cut(auth, "Credential="); ok {
		ak, _, _ := strings.Cut(rest, "/")
		return ak
	}
	return ""
}

// capture passes a response through and keeps a copy of its body.
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.body.Len() < 1<<20 {
		c.body.Write(b)
	}
	return c.ResponseWriter.Write(b)
}
