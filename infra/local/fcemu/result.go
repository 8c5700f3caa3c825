package fcemu

import (
	"encoding/json"
	"errors"
	"time"
)

// Sentinel errors returned (wrapped) by Invoke and Start; test with errors.Is.
var (
	// ErrClosed: the Runtime was closed before or during the invocation.
	ErrClosed = errors.New("fcemu: runtime closed")
	// ErrTimeout: no /response or /error arrived by deadline + grace (FC
	// would report a function timeout), or the process never polled for
	// the event.
	ErrTimeout = errors.New("fcemu: function timed out")
	// ErrProcessExited: the function process is gone; the wrapped error
	// carries the exit status (*exec.ExitError).
	ErrProcessExited = errors.New("fcemu: function process exited")
)

// Result is the function's answer to one invocation.
type Result struct {
	RequestID string
	Payload   []byte         // the /response body; nil when Error is set
	Error     *FunctionError // non-nil when the function POSTed /error
	Duration  time.Duration  // from event delivery to the function's answer
}

// FunctionError is the body the SDK POSTs to /error: a returned error
// (Type = its reflect type name, e.g. "errorString") or a recovered panic
// (Type = the panic value's type, StackTrace set).
type FunctionError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return "function error: " + e.Message
	}
	return "function error: " + e.Type + ": " + e.Message
}

// decodeFunctionError never fails: a body that is not the SDK's JSON shape
// still has to reach the caller, so it becomes the message verbatim.
func decodeFunctionError(body []byte) *FunctionError {
	var fe FunctionError
	if err := json.Unmarshal(body, &fe); err != nil || (fe.Message == "" && fe.Type == "") {
		return &FunctionError{Message: string(body)}
	}
	return &fe
}
