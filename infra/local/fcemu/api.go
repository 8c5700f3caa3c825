package fcemu

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"
)

// apiPrefix is fc-runtime-go-sdk's base path (apiVersion "2020-11-11").
const apiPrefix = "/2020-11-11/runtime/invocation/"

// Header names as read by fc/runtime_api_client.go and fc/invoke_loop.go.
const (
	hdrRequestID       = "x-fc-request-id"
	hdrDeadline        = "x-fc-function-deadline"
	hdrTimeout         = "x-fc-function-timeout"
	hdrAccessKeyID     = "x-fc-access-key-id"
	hdrAccessKeySecret = "x-fc-access-key-secret"
	hdrSecurityToken   = "x-fc-security-token"
	hdrFunctionName    = "x-fc-function-name"
	hdrFunctionHandler = "x-fc-function-handler"
	hdrFunctionMemory  = "x-fc-function-memory"
	hdrFunctionType    = "x-fc-function-type"
	hdrRegion          = "x-fc-region"
	hdrAccountID       = "x-fc-account-id"
	hdrRetryCount      = "x-fc-retry-count"
	hdrLogProject      = "x-fc-service-logproject"
	hdrLogStore        = "x-fc-service-logstore"
)

func (r *Runtime) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"next", r.handleNext)
	mux.HandleFunc("POST "+apiPrefix+"{id}/response", r.handleAnswer(false))
	mux.HandleFunc("POST "+apiPrefix+"{id}/error", r.handleAnswer(true))
	return mux
}

// handleNext is the SDK's long poll: block until Invoke queues an event.
func (r *Runtime) handleNext(w http.ResponseWriter, req *http.Request) {
	r.polledOnce.Do(func() { close(r.polled) })
	var inv *invocation
	select {
	case inv = <-r.queue:
	case <-req.Context().Done():
		return // child disconnected or server closing
	}
	// The deadline starts when the event leaves, as on FC.
	deadline := time.Now().Add(inv.timeout)
	r.setEventHeaders(w.Header(), inv, deadline)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(inv.event)
	if err == nil {
		// Flush now: a write error surfacing after return would be lost
		// and the Invoke would wait for its full timeout.
		err = http.NewResponseController(w).Flush()
	}
	if err != nil {
		r.complete(inv.id, outcome{err: fmt.Errorf("delivering event to the function: %w", err), at: time.Now()})
	}
}

// setEventHeaders always sends the deadline and timeout headers: without
// them the SDK logs a parse error and never answers (reference §1.3).
func (r *Runtime) setEventHeaders(h http.Header, inv *invocation, deadline time.Time) {
	h.Set(hdrRequestID, inv.id)
	h.Set(hdrDeadline, strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set(hdrTimeout, strconv.Itoa(timeoutSeconds(inv.timeout)))
	if !inv.creds.empty() {
		h.Set(hdrAccessKeyID, inv.creds.AccessKeyID)
		h.Set(hdrAccessKeySecret, inv.creds.AccessKeySecret)
		h.Set(hdrSecurityToken, inv.creds.SecurityToken)
	}
	h.Set(hdrFunctionName, r.fn.Name)
	h.Set(hdrFunctionHandler, r.fn.Handler)
	h.Set(hdrFunctionMemory, strconv.Itoa(r.fn.MemoryMB))
	h.Set(hdrRegion, r.fn.Region)
	h.Set(hdrAccountID, r.fn.AccountID)
	h.Set(hdrRetryCount, strconv.Itoa(inv.retry))
	if inv.funcType != typeHandler {
		h.Set(hdrFunctionType, strconv.Itoa(inv.funcType))
	}
	if r.fn.LogProject != "" {
		h.Set(hdrLogProject, r.fn.LogProject)
	}
	if r.fn.LogStore != "" {
		h.Set(hdrLogStore, r.fn.LogStore)
	}
}

// timeoutSeconds rounds up because the header is whole seconds (FC's
// minimum is 1) while tests use sub-second timeouts; the exact value is in
// the deadline header.
func timeoutSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// handleAnswer serves POST {id}/response and {id}/error.
func (r *Runtime) handleAnswer(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		id := req.PathValue("id")
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !r.complete(id, outcome{payload: body, isError: isError, at: time.Now()}) {
			// Late answer after a timeout, or a bogus id: the SDK only logs it.
			http.Error(w, "unknown or expired request id "+id, http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}
