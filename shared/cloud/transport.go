package cloud

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"time"
)

// newBaseTransport is the one connection pool a Client and its
// WithCredentials copies share.
func newBaseTransport(proxy func(*http.Request) (*url.URL, error)) *http.Transport {
	if proxy == nil {
		proxy = proxyFromEnv()
	}
	return &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// ctxTransport binds one attempt's context to the requests the SDK builds
// without one. It is deliberately not an *http.Transport: the v1 SDK only
// rewrites the proxy, TLS and dialer settings of *http.Transport values, and
// doing so on a shared transport would race between concurrent calls.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t *ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// Keep the http.Client's own deadline (req.Context()) and add ours. The
	// merged context is not cancelled on return because the SDK reads the
	// body afterwards; it ends when the attempt's context is cancelled.
	merged, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	resp, err := t.base.RoundTrip(req.WithContext(merged))
	if err != nil {
		stop()
		cancel()
	}
	return resp, err
}
