package slsemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// SLS error codes the emulator returns. The strings are the ones the real
// service uses (and the SDK compares against, e.g. "ProjectNotExist").
const (
	codeUnauthorized         = "Unauthorized"
	codeSignatureNotMatch    = "SignatureNotMatch"
	codeProjectNotExist      = "ProjectNotExist"
	codeProjectAlreadyExist  = "ProjectAlreadyExist"
	codeLogStoreNotExist     = "LogStoreNotExist"
	codeLogStoreAlreadyExist = "LogStoreAlreadyExist"
	codeIndexConfigNotExist  = "IndexConfigNotExist"
	codeIndexAlreadyExist    = "IndexAlreadyExist"
	codeShardNotExist        = "ShardNotExist"
	codeInvalidCursor        = "InvalidCursor"
	codeParameterInvalid     = "ParameterInvalid"
	codePostBodyInvalid      = "PostBodyInvalid"
	codePostBodyTooLarge     = "PostBodyTooLarge"
	codePostBodyUncompress   = "PostBodyUncompressError"
	codeInvalidCompressType  = "InvalidCompressType"
	codeInvalidBodyRawSize   = "InvalidBodyRawSize"
	codeMethodNotAllowed     = "MethodNotAllowed"
	codeInternalServerError  = "InternalServerError"
)

// apiError is an error that is reported to the client as an SLS error
// response: an HTTP status plus {"errorCode","errorMessage"}.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON shape the SDK unmarshals into sls.Error. httpCode is
// deliberately omitted: the SDK fills it from the status line, and a JSON
// value would overwrite that.
type errorBody struct {
	Code    string `json:"errorCode"`
	Message string `json:"errorMessage"`
}

// asAPIError maps any handler error onto the response to send; errors that
// are not *apiError are emulator bugs and become 500 InternalServerError.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return &apiError{Status: http.StatusInternalServerError, Code: codeInternalServerError, Message: err.Error()}
}

func writeAPIError(w http.ResponseWriter, ae *apiError) {
	body, _ := json.Marshal(errorBody{Code: ae.Code, Message: ae.Message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(ae.Status)
	_, _ = w.Write(body)
}

// writeJSON sends a 200 JSON response. JSON is never compressed: the SDK
// reads management responses as plain JSON whatever Accept-Encoding it sent.
func writeJSON(w http.ResponseWriter, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// writeOK sends the empty 200 the SDK expects from create/update/delete/put.
func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
