package cloud

import (
	"context"
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alb"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

var warmOnce sync.Once

// warmEndpointTables fills the SDK's lazily built, unsynchronised global
// endpoint maps once, before clients are built concurrently.
func warmEndpointTables() {
	warmOnce.Do(func() {
		vpc.GetEndpointMap()
		alb.GetEndpointMap()
		slb.GetEndpointMap()
		ecs.GetEndpointMap()
		sts.GetEndpointMap()
	})
}

// sdkSetup is what every per-attempt SDK client is built from. A fresh
// client per attempt is cheap (no I/O) and sidesteps the SDK clients' own
// per-call mutation of shared state (timeouts, transport settings).
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

func (c *Client) vpcClient(ctx context.Context, region string) (*vpc.Client, error) {
	cfg, cred := c.sdkSetup(ctx)
	return vpc.NewClientWithOptions(region, cfg, cred)
}

func (c *Client) albClient(ctx context.Context, region string) (*alb.Client, error) {
	cfg, cred := c.sdkSetup(ctx)
	return alb.NewClientWithOptions(region, cfg, cred)
}

func (c *Client) slbClient(ctx context.Context, region string) (*slb.Client, error) {
	cfg, cred := c.sdkSetup(ctx)
	return slb.NewClientWithOptions(region, cfg, cred)
}

func (c *Client) ecsClient(ctx context.Context, region string) (*ecs.Client, error) {
	cfg, cred := c.sdkSetup(ctx)
	return ecs.NewClientWithOptions(region, cfg, cred)
}

func (c *Client) stsClient(ctx context.Context) (*sts.Client, error) {
	cfg, cred := c.sdkSetup(ctx)
	return sts.NewClientWithOptions("", cfg, cred)
}

// domainSetter is implemented by every SDK request.
type domainSetter interface{ SetDomain(string) }

// target points req at the configured endpoint override, if any.
func (c *Client) target(req domainSetter, product, region string) {
	if ep := c.cfg.endpoint(product, region); ep != "" {
		req.SetDomain(ep)
	}
}

var _ domainSetter = (*requests.RpcRequest)(nil)
