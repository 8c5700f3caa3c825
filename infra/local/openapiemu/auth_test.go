package openapiemu_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"

	"github.com/ndrtrace/ndrtrace/infra/local/openapiemu"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

func TestBadCredentialsRejected(t *testing.T) {
	f := setup(t)
	f.emu.AddNATGateway(ownAccount, hangzhou, openapiemu.NATGateway{ID: "ngw-1"})

	wrong := newClient(t, cloud.Credentials{AccessKeyID: ownKey.AccessKeyID, AccessKeySecret: "not-the-secret"}, nil)
	err := wrong.EnableNATSessionLog(ctx(t), hangzhou, "ngw-1", cloud.SLSDestination(hangzhou, ownAccount, "p", "l"))
	if cloud.Code(err) != "SignatureDoesNotMatch" || cloud.HTTPStatus(err) != 400 {
		t.Fatalf("wrong secret: %v", err)
	}
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) || !strings.Contains(se.Recommend(), "InvalidAccessKeySecret") {
		t.Fatalf("the SDK should diagnose a wrong secret from the echoed string-to-sign: %v", se)
	}
	if strings.Contains(err.Error(), "string to sign") || strings.Contains(err.Error(), "AccessKeyId") {
		t.Fatalf("error leaks the signed request: %v", err)
	}
	if st, _ := f.emu.NATGateway(ownAccount, hangzhou, "ngw-1"); st.SessionLogEnabled {
		t.Fatal("state changed by a rejected call")
	}
	if c := f.emu.Calls("ModifyNatGatewayAttribute"); len(c) != 1 || c[0].Account != "" {
		t.Fatalf("rejected call retried or attributed: %+v", c)
	}

	unknown := newClient(t, cloud.Credentials{AccessKeyID: "LTAI-unknown", AccessKeySecret: "x"}, nil)
	_, err = unknown.ListNATGateways(ctx(t), hangzhou)
	if cloud.Code(err) != "InvalidAccessKeyId.NotFound" || cloud.HTTPStatus(err) != 404 {
		t.Fatalf("unknown key: %v", err)
	}
}

// A request replayed verbatim is refused: the nonce was used.
func TestReplayedNonceRefused(t *testing.T) {
	f := setup(t)
	proxyURL, _ := url.Parse(f.emu.ProxyURL())
	replay := newClient(t, cloud.Credentials{AccessKeyID: ownKey.AccessKeyID, AccessKeySecret: ownKey.AccessKeySecret}, func(c *cloud.Config) {
		c.Transport = replayTransport{base: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
		c.MaxAttempts = 1
	})
	_, err := replay.ListCLBs(ctx(t), hangzhou)
	if cloud.Code(err) != "SignatureNonceUsed" {
		t.Fatalf("replay: %v", err)
	}
}

// replayTransport sends every request twice and returns the second answer.
type replayTransport struct{ base http.RoundTripper }

func (rt replayTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	first := r.Clone(r.Context())
	if r.GetBody != nil {
		first.Body, _ = r.GetBody()
	}
	resp, err := rt.base.RoundTrip(first)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return rt.base.RoundTrip(r)
}
