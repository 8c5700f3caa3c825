package openapiemu

import (
	"encoding/json"
	"net/http"
	"strings"
)

// apiError is an error answer of the real services' JSON shape.
type apiError struct {
	status  int
	code    string
	message string
}

func errorf(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

func missing(name string) *apiError {
	return errorf(400, "MissingParameter",
		"The input parameter \""+name+"\" that is mandatory for processing this request is not supplied.")
}

func invalid(name, why string) *apiError {
	return errorf(400, "InvalidParameter", "The specified parameter \""+name+"\" is not valid: "+why)
}

// statusFor is the HTTP status the services use for an error code.
func statusFor(code string) int {
	switch {
	case code == "ServiceUnavailable":
		return 503
	case code == "InternalError", strings.HasPrefix(code, "InternalError."), code == "UnknownError":
		return 500
	case strings.HasPrefix(code, "Throttling"):
		return 400 // Alibaba answers flow control with 400, not 429/503
	case strings.HasSuffix(code, ".NotFound"), strings.HasPrefix(code, "ResourceNotFound"), strings.HasPrefix(code, "EntityNotExist"):
		return 404
	case strings.HasPrefix(code, "Forbidden"), code == "NoPermission":
		return 403
	}
	return 400
}

// messageFor is a realistic message for an injected error code.
func messageFor(code string) string {
	switch {
	case strings.HasPrefix(code, "Throttling"):
		return "Request was denied due to user flow control."
	case code == "ServiceUnavailable":
		return "The request has failed due to a temporary failure of the server."
	case code == "InternalError":
		return "The request processing has failed due to some unknown error, exception or failure."
	}
	return "The request failed: " + code + " (injected by the emulator)."
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeError(w http.ResponseWriter, requestID, host string, e *apiError) {
	writeJSON(w, e.status, map[string]any{
		"RequestId": requestID,
		"HostId":    host,
		"Code":      e.code,
		"Message":   e.message,
		"Recommend": "https://api.aliyun.com/troubleshoot?q=" + e.code,
	})
}
