// Package cloud is a small, typed layer over the Alibaba Cloud v1 Go SDK
// (github.com/aliyun/alibaba-cloud-sdk-go) for the control-plane calls that
// ndrtrace needs: inventory of NAT gateways, ALBs and CLBs, switching their
// session/access logs into SLS, resolving (VPC, private IP) to an ECS ENI, and
// STS AssumeRole into member accounts.
//
// Every method fetches all pages, retries throttling with exponential backoff
// and jitter, honours its context, and returns an *Error naming what was being
// done ("vpc DescribeNatGateways in cn-hangzhou page 2") with the API error
// code kept visible.
//
// Credentials are always handed in (the FC invocation's STS triple) and never
// read from files or logged: Credentials redacts itself when formatted, and
// transport errors are stripped of the signed URL, whose query carries the
// AccessKeyId and SecurityToken.
//
// Why the SDK's own transport handling is bypassed: the v1 SDK mutates its
// *http.Transport on every call (proxy, TLS config, dialer) and reads
// HTTP_PROXY itself with regexp-based NO_PROXY matching; it also has no
// context support. This package therefore gives each attempt a fresh SDK
// client whose Transport is a non-*http.Transport RoundTripper (which the SDK
// leaves alone) that binds the attempt's context and uses Go's standard proxy
// rules (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, read when the Client is built).
package cloud
