// Package openapiemu is a stateful emulator of the Alibaba Cloud RPC-style
// OpenAPI actions that ndrtrace calls (VPC NAT gateways, ALB, CLB (SLB), ECS
// network interfaces, STS AssumeRole), spoken to by the real v1 Go SDK over
// loopback.
//
// The SDK builds URLs such as http://vpc.aliyuncs.com/?Action=...; it reaches
// the emulator as an HTTP proxy:
//
//	HTTP_PROXY=http://127.0.0.1:<port>   (Server.ProxyURL)
//	scheme http                          (cloud.Config{Scheme: "http"} or ALIBABA_CLOUD_OPENAPI_SCHEME=http)
//
// The product is taken from the API Version (2016-04-28 vpc, 2020-06-16 alb,
// 2014-05-15 slb, 2014-05-26 ecs, 2015-04-01 sts), falling back to the first
// label of the Host, so every endpoint name the SDK may pick works.
//
// Like the real service it verifies the HMAC-SHA1 RPC signature (in constant
// time), the timestamp window and nonce reuse, maps the AccessKeyId (and the
// SecurityToken of STS keys) to an account, and answers errors in the real
// JSON shape {"RequestId","HostId","Code","Message","Recommend"} with the
// real HTTP status. Accounts only see their own resources per region; write
// actions change what later describe actions return. Tests inject faults
// with FailNext and FailRegion and inspect the call log with Calls.
//
// Behaviour the public documentation does not settle is marked UNVERIFIED
// in the handlers (for example the error code for session logs on
// pay-by-specification gateways).
package openapiemu
