package cloud

import (
	"context"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// Every API is called as a requests.CommonRequest through the SDK's core
// package: the generated service packages (services/vpc, services/ecs, ...)
// cost about 40 s of a cold build and megabytes of every function binary
// for a dozen calls. Each call site sets the request's Product and ApiName
// as constants (infra/deploy derives the RAM policies from them) and its
// parameters under the names the generated request structs send
// (`position:"Query" name:"..."`); sdkClient completes the request the way
// the generated package of its product would, and decode reads the answer
// into the call's own response struct (see json.go).

// rpcService is what the v1 SDK's generated package of a product puts into
// each of its requests (InitWithApiInfo) and clients (endpoint.go).
type rpcService struct {
	key          string // Config.Endpoints key (ProductVPC...)
	version      string
	serviceCode  string // location service code
	endpointType string // location endpoint type
	endpointMap  map[string]string
}

// rpcServices is keyed by CommonRequest.Product.
var rpcServices = map[string]rpcService{
	"Vpc": {ProductVPC, "2016-04-28", "vpc", "openAPI", vpcEndpointMap},
	"Alb": {ProductALB, "2020-06-16", "alb", "openAPI", albEndpointMap},
	"Slb": {ProductSLB, "2014-05-15", "slb", "openAPI", slbEndpointMap},
	"Ecs": {ProductECS, "2014-05-26", "ecs", "openAPI", ecsEndpointMap},
	"Sts": {ProductSTS, "2015-04-01", "", "", stsEndpointMap},
	"Ram": {ProductRAM, "2015-05-01", "ram", "openAPI", nil},
}

// sdkClient returns the SDK client for one attempt of req, whose Product and
// ApiName the caller has set, and completes req as the generated request of
// that API would be: API version, location service code, POST (the method
// of every generated request this package replaces) and the endpoint
// override of Config.Endpoints. Without an override the client resolves
// the host exactly as the generated clients do: the SDK's global endpoint
// table, then the product's endpoint map, then the regional rule
// <product>.<region>.aliyuncs.com.
//
// A fresh client per attempt is cheap (no I/O) and sidesteps the SDK
// clients' own per-call mutation of shared state (timeouts, transport
// settings).
func (c *Client) sdkClient(ctx context.Context, req *requests.CommonRequest, region string) (*sdk.Client, error) {
	svc, ok := rpcServices[req.Product]
	if !ok {
		return nil, fmt.Errorf("cloud: no API data for product %q", req.Product)
	}
	req.Version, req.ServiceCode, req.EndpointType = svc.version, svc.serviceCode, svc.endpointType
	req.Method = requests.POST
	c.target(req, svc.key, region)
	cfg, cred := c.sdkSetup(ctx)
	cl, err := sdk.NewClientWithOptions(region, cfg, cred)
	if err != nil {
		return nil, err
	}
	// What the generated packages' SetEndpointDataToClient does.
	cl.EndpointMap, cl.EndpointType = svc.endpointMap, "regional"
	return cl, nil
}

// sdkSetup is what every per-attempt SDK client is built from.
func (c *Client) sdkSetup(ctx context.Context) (*sdk.Config, auth.Credential) {
	cfg := sdk.NewConfig()
	cfg.Scheme = c.cfg.Scheme
	cfg.AutoRetry = false // retries are ours: with backoff, on throttling too
	cfg.Timeout = c.cfg.CallTimeout
	cfg.Transport = &ctxTransport{ctx: ctx, base: c.transport}
	cfg.UserAgent = "ndrtrace"
	var cred auth.Credential
	if c.creds.SecurityToken != "" {
		cred = credentials.NewStsTokenCredential(c.creds.AccessKeyID, c.creds.AccessKeySecret, c.creds.SecurityToken)
	} else {
		cred = credentials.NewAccessKeyCredential(c.creds.AccessKeyID, c.creds.AccessKeySecret)
	}
	return cfg, cred
}

// domainSetter is implemented by every SDK request.
type domainSetter interface{ SetDomain(string) }

// target points req at the configured endpoint override, if any.
func (c *Client) target(req domainSetter, product, region string) {
	if ep := c.cfg.endpoint(product, region); ep != "" {
		req.SetDomain(ep)
	}
}

var _ domainSetter = (*requests.CommonRequest)(nil)

// setQuery sets a query parameter as the generated requests do: an empty
// value is not sent at all.
func setQuery(req *requests.CommonRequest, name, value string) {
	if value != "" {
		req.QueryParams[name] = value
	}
}

// send makes one API call, retried as call retries: build makes a fresh
// request for every attempt (the SDK writes signature and nonce into the
// request it sends), and the answer is decoded into out.
func send[T any](c *Client, ctx context.Context, op, region string, build func() *requests.CommonRequest, out *T) error {
	return c.call(ctx, op, func(ctx context.Context) error {
		req := build()
		cl, err := c.sdkClient(ctx, req, region)
		if err != nil {
			return err
		}
		r, err := cl.ProcessCommonRequest(req)
		return decode(r, err, out)
	})
}
