package fcemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aliyun/fc-runtime-go-sdk/events"
)

// HTTPResponse is what an FC 3.0 HTTP trigger sends back to the client.
type HTTPResponse struct {
	StatusCode int
	Headers    map[string]string
	Body       []byte // decoded
}

// DecodeHTTPResponse decodes a handler's /response payload shaped as
// events.HTTPTriggerResponse, base64-decoding the body when flagged. A
// payload without statusCode is rejected: FC's fallback for other return
// values is undocumented, so handlers should always return the struct.
func DecodeHTTPResponse(payload []byte) (HTTPResponse, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil || raw == nil {
		return HTTPResponse{}, fmt.Errorf("decoding HTTP trigger response: not a JSON object: %.200q", payload)
	}
	if _, ok := raw["statusCode"]; !ok {
		return HTTPResponse{}, fmt.Errorf("decoding HTTP trigger response: missing statusCode in %.200q", payload)
	}
	var tr events.HTTPTriggerResponse
	if err := json.Unmarshal(payload, &tr); err != nil {
		return HTTPResponse{}, fmt.Errorf("decoding HTTP trigger response: %w", err)
	}
	body := []byte(tr.Body)
	if tr.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(tr.Body); err != nil {
			return HTTPResponse{}, fmt.Errorf("decoding HTTP trigger response body from base64: %w", err)
		}
	}
	return HTTPResponse{StatusCode: tr.StatusCode, Headers: tr.Headers, Body: body}, nil
}

// Write replays the response on w, e.g. from a local HTTP gateway.
func (h HTTPResponse) Write(w http.ResponseWriter) error {
	for k, v := range h.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(h.StatusCode)
	if _, err := w.Write(h.Body); err != nil {
		return fmt.Errorf("writing HTTP response body: %w", err)
	}
	return nil
}
