package fcemu

import "time"

// functionType values of the x-fc-function-type header (fc/function.go).
const (
	typeHandler     = 0
	typeInitializer = 1
	typePreStop     = 2
)

// invocation is one event on its way to the function and back.
type invocation struct {
	id       string
	event    []byte
	creds    Credentials
	retry    int
	timeout  time.Duration
	funcType int

	// done receives exactly one outcome; buffered so the API handler never
	// blocks on an Invoke that already gave up.
	done chan outcome
}

// outcome is what the function POSTed back (or why delivery failed).
type outcome struct {
	payload []byte
	isError bool
	err     error // transport failure while handing the event over
	at      time.Time
}

// InvokeOption adjusts a single invocation.
type InvokeOption func(*invocation)

// WithCredentials overrides Function.Credentials for one invocation, e.g. to
// check that a handler reads fresh STS tokens per call.
func WithCredentials(c Credentials) InvokeOption {
	return func(i *invocation) { i.creds = c }
}

// WithRequestID sets the request id instead of a generated one. It must be
// unique among in-flight invocations.
func WithRequestID(id string) InvokeOption {
	return func(i *invocation) { i.id = id }
}

// WithRetryCount sets x-fc-retry-count, as FC does on async retries.
func WithRetryCount(n int) InvokeOption {
	return func(i *invocation) { i.retry = n }
}

// WithTimeout overrides Function.Timeout for one invocation.
func WithTimeout(d time.Duration) InvokeOption {
	return func(i *invocation) {
		if d > 0 {
			i.timeout = d
		}
	}
}
