package cloud

import (
	"errors"
	"net/http"
)

// Client calls the VPC, ALB, SLB, ECS and STS APIs of one account with one
// set of credentials. It is safe for concurrent use.
type Client struct {
	creds     Credentials
	cfg       Config
	transport http.RoundTripper
}

// New returns a Client for creds. The proxy environment is read now.
func New(creds Credentials, cfg Config) (*Client, error) {
	if !creds.Valid() {
		return nil, errors.New("cloud: credentials need an AccessKeyID and an AccessKeySecret")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := cfg.Transport
	if t == nil {
		t = newBaseTransport(cfg.Proxy)
	}
	return &Client{creds: creds, cfg: cfg, transport: t}, nil
}

// WithCredentials returns a Client for other credentials (typically a member
// account's, from AssumeRole) sharing this one's configuration and
// connection pool.
func (c *Client) WithCredentials(creds Credentials) (*Client, error) {
	if !creds.Valid() {
		return nil, errors.New("cloud: credentials need an AccessKeyID and an AccessKeySecret")
	}
	cp := *c
	cp.creds = creds
	return &cp, nil
}

// Credentials returns the credentials the Client signs with.
func (c *Client) Credentials() Credentials { return c.creds }
