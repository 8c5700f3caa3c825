package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
)

// Error is returned by every Client method when an API call fails.
type Error struct {
	// Op says what was being done: "vpc DescribeNatGateways in cn-hangzhou page 2".
	Op string
	// Code is the API error code ("Throttling.User"); empty when no API
	// answer arrived (network failure, timeout).
	Code       string
	Message    string
	RequestID  string
	HTTPStatus int // 0 when no response arrived
	Attempts   int
	// Err is the underlying error: the SDK's *errors.ServerError for API
	// errors (so errors.As keeps working), or a *url.Error stripped of the
	// signed query for transport failures.
	Err error
}

func (e *Error) Error() string { return e.Op + ": " + e.detail() }

// detail is the message without the operation.
func (e *Error) detail() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("%s after %d attempts", e.body(), e.Attempts)
	}
	return e.body()
}

// body is the failure itself.
func (e *Error) body() string {
	switch {
	case e.Code != "":
		s := fmt.Sprintf("%s: %s (HTTP %d", e.Code, e.Message, e.HTTPStatus)
		if e.RequestID != "" {
			s += ", RequestId " + e.RequestID
		}
		return s + ")"
	case e.HTTPStatus != 0:
		// An answer without an API error body (a proxy's or gateway's page).
		return fmt.Sprintf("HTTP %d: %s", e.HTTPStatus, truncate(e.Message, 200))
	case e.Err != nil:
		return e.Err.Error()
	}
	return "unknown error"
}

func (e *Error) Unwrap() error { return e.Err }

// Code returns the API error code carried by err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return ""
}

// HTTPStatus returns the HTTP status of the API answer carried by err, or 0.
func HTTPStatus(err error) int {
	var e *Error
	if errors.As(err, &e) && e.HTTPStatus != 0 {
		return e.HTTPStatus
	}
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.HttpStatus()
	}
	return 0
}

// IsThrottling reports whether err is the service asking us to slow down
// (flow control or temporary unavailability): worth retrying later.
func IsThrottling(err error) bool {
	if err == nil {
		return false
	}
	if isThrottlingCode(Code(err)) {
		return true
	}
	return HTTPStatus(err) == 503
}

func isThrottlingCode(code string) bool {
	switch {
	case code == "":
		return false
	case code == "Throttling", strings.HasPrefix(code, "Throttling."):
		// Throttling.User, Throttling.Api, Throttling.Resource, ...
		return true
	case code == "ServiceUnavailable", strings.HasPrefix(code, "ServiceUnavailable."):
		return true
	case code == "RequestLimitExceeded", code == "Request.Throttled", code == "Throttled":
		return true
	}
	return false
}

// IsConflict reports an operation refused because another one on the same
// resource is in progress: IncorrectStatus.* (a NAT gateway "Modifying", a
// load balancer "Configuring"), Conflict.Lock, OperationConflict. Worth
// retrying once the other operation completes, which may take longer than
// the client's own retries: onboard retries these with its own budget.
func IsConflict(err error) bool {
	switch code := Code(err); {
	case code == "":
		return false
	case code == "IncorrectStatus", strings.HasPrefix(code, "IncorrectStatus."):
		return true
	case code == "Conflict.Lock", code == "OperationConflict", strings.HasPrefix(code, "OperationConflict."):
		return true
	case strings.HasPrefix(code, "IncorrectLoadBalancerStatus"), strings.HasPrefix(code, "IncorrectNatGatewayStatus"):
		return true // UNVERIFIED spellings seen in other Alibaba APIs' error lists
	}
	return false
}

// retryable reports whether another attempt may succeed: throttling, a
// server-side failure, or a transport failure while the caller still waits.
// All calls of this package are safe to repeat (reads, or writes that set
// an absolute state).
func retryable(parent context.Context, err error) bool {
	if err == nil || parent.Err() != nil {
		return false
	}
	if IsThrottling(err) {
		return true
	}
	if s := HTTPStatus(err); s >= 500 {
		return true
	}
	var e *Error
	if errors.As(err, &e) && e.Code == "" && e.HTTPStatus == 0 {
		var ue *url.Error
		return errors.As(err, &ue) // no answer at all: connection or attempt timeout
	}
	return false
}

// wrapErr turns an SDK error into an *Error without leaking credentials.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return &Error{
			Op: op, Code: se.ErrorCode(), Message: scrubMessage(se.ErrorCode(), se.Message()),
			RequestID: se.RequestId(), HTTPStatus: se.HttpStatus(), Err: se,
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &Error{Op: op, Err: &url.Error{Op: ue.Op, URL: stripQuery(ue.URL), Err: ue.Err}}
	}
	// Client-side SDK errors (bad parameters, JSON decoding) carry no URL.
	return &Error{Op: op, Err: err}
}

// scrubMessage drops the echoed string-to-sign of signature errors: it holds
// the AccessKeyId and the SecurityToken.
func scrubMessage(code, msg string) string {
	if code == sdkerrors.SignatureDostNotMatchErrorCode || code == sdkerrors.IncompleteSignatureErrorCode {
		if i := strings.Index(msg, sdkerrors.MessageContain); i >= 0 {
			return strings.TrimSpace(msg[:i])
		}
	}
	return msg
}

func stripQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
