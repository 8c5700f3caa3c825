// Package slsemu is an in-process emulator of the Alibaba Cloud Simple Log
// Service (SLS) HTTP API, good enough for the unmodified
// github.com/aliyun/aliyun-log-go-sdk to run against it over loopback.
//
// It covers the data plane used by log producers and consumers (PutLogs,
// PostLogStoreLogs, ListShards, GetCursor, GetCursorTime, PullLogs) and the
// provisioning calls (projects, logstores, indexes). Optionally it verifies
// v1 (HMAC-SHA1) and v4 (SLS4-HMAC-SHA256) request signatures so tests can
// prove which credentials a program used.
//
// # Routing
//
// The SDK always sends requests to http://{project}.{endpoint-host}/..., a
// host name that does not resolve for a loopback endpoint. Point the client at
// the emulator with an HTTP proxy: either set HTTP_PROXY to Server.ProxyURL in
// the environment of the program under test (its default transport honours
// it), or install Server.HTTPClient with Client.SetHTTPClient. The emulator
// accepts both absolute-form (proxied) and origin-form requests and takes the
// project name from the Host, i.e. the label before the first '.'.
//
// # Cursors
//
// A cursor is base64(decimal int64) as on the real service. Consecutive log
// groups of a shard have consecutive integers starting at a per-shard base
// (cursorBase), so cursors look real and the SDK's X-Log-Read-Last-Cursor
// arithmetic works. Padded and unpadded base64 are both accepted, and a pull
// that reaches the requested end cursor echoes that exact string back.
//
// Stored log groups are kept as the raw protobuf bytes the client sent
// (already framed as a LogGroupList entry), so serving a pull is a
// concatenation plus compression, never a re-marshal.
package slsemu
