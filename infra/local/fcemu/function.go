package fcemu

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Defaults mirror FC 3.0's console defaults where FC has one and otherwise
// pick obviously fake but well-formed values.
const (
	DefaultTimeout   = 60 * time.Second
	DefaultMemoryMB  = 512
	DefaultRegion    = "cn-hangzhou"
	DefaultAccountID = "1234567890123456"
	DefaultHandler   = "main"
	DefaultGrace     = time.Second
)

// Credentials are the STS credentials FC hands to each invocation when the
// function has a role (x-fc-access-key-id / -secret / x-fc-security-token).
type Credentials struct {
	AccessKeyID, AccessKeySecret, SecurityToken string
}

func (c Credentials) empty() bool { return c == Credentials{} }

// Function describes the function binary to run and the configuration FC
// would attach to it.
type Function struct {
	Name     string
	Binary   string        // path to the compiled handler
	Env      []string      // extra KEY=VALUE for the child (FC's environmentVariables)
	Timeout  time.Duration // per invocation; default 60s
	MemoryMB int           // default 512

	Region, AccountID string // defaults "cn-hangzhou", "1234567890123456"

	// Credentials are sent with every invocation unless overridden with
	// WithCredentials. Zero value = no credential headers, like a function
	// without a role.
	Credentials Credentials

	// Initializer makes Start send an initializer invocation
	// (x-fc-function-type: 1) and require a /response before returning.
	Initializer        bool
	InitializerTimeout time.Duration // default Timeout

	// PreStop makes Close send a preStop invocation (x-fc-function-type: 2)
	// before killing the process. Only enable it when the binary registers
	// a preStop hook: the SDK answers /error otherwise.
	PreStop        bool
	PreStopTimeout time.Duration // default Timeout

	Output io.Writer // child's stdout+stderr; nil = io.Discard

	// Optional extras; empty values fall back to defaults or are omitted.
	Handler    string        // x-fc-function-handler / FC_FUNCTION_HANDLER; default "main"
	LogProject string        // x-fc-service-logproject
	LogStore   string        // x-fc-service-logstore
	InheritEnv bool          // also pass this process's environment (FC does not)
	Grace      time.Duration // wait past the deadline before Invoke reports a timeout; default 1s
}

// withDefaults fills zero fields so the rest of the package never has to
// special-case them.
func (f Function) withDefaults() (Function, error) {
	if f.Binary == "" {
		return f, fmt.Errorf("function binary path is empty")
	}
	abs, err := filepath.Abs(f.Binary)
	if err != nil {
		return f, fmt.Errorf("resolving binary path %q: %w", f.Binary, err)
	}
	f.Binary = abs
	if f.Name == "" {
		f.Name = filepath.Base(abs)
	}
	if f.Timeout <= 0 {
		f.Timeout = DefaultTimeout
	}
	if f.MemoryMB <= 0 {
		f.MemoryMB = DefaultMemoryMB
	}
	if f.Region == "" {
		f.Region = DefaultRegion
	}
	if f.AccountID == "" {
		f.AccountID = DefaultAccountID
	}
	if f.InitializerTimeout <= 0 {
		f.InitializerTimeout = f.Timeout
	}
	if f.PreStopTimeout <= 0 {
		f.PreStopTimeout = f.Timeout
	}
	if f.Output == nil {
		f.Output = io.Discard
	}
	if f.Handler == "" {
		f.Handler = DefaultHandler
	}
	if f.Grace <= 0 {
		f.Grace = DefaultGrace
	}
	return f, nil
}

// environ builds the child's environment the way FC 3.0 does: system
// variables first, then the user's, and FC_RUNTIME_API last so a stray user
// value can never point the SDK somewhere else (exec keeps the last
// duplicate).
func (f Function) environ(runtimeAPI, instanceID string) []string {
	var env []string
	if f.InheritEnv {
		env = append(env, os.Environ()...)
	}
	env = append(env,
		"FC_FUNCTION_NAME="+f.Name,
		"FC_REGION="+f.Region,
		"FC_ACCOUNT_ID="+f.AccountID,
		"FC_FUNCTION_HANDLER="+f.Handler,
		"FC_FUNCTION_MEMORY_SIZE="+strconv.Itoa(f.MemoryMB),
		"FC_INSTANCE_ID="+instanceID,
		"FC_FUNC_CODE_PATH="+filepath.Dir(f.Binary),
	)
	// FC 3.0 also exposes the role's credentials as env vars.
	if !f.Credentials.empty() {
		env = append(env,
			"ALIBABA_CLOUD_ACCESS_KEY_ID="+f.Credentials.AccessKeyID,
			"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+f.Credentials.AccessKeySecret,
			"ALIBABA_CLOUD_SECURITY_TOKEN="+f.Credentials.SecurityToken,
		)
	}
	env = append(env, f.Env...)
	return append(env, "FC_RUNTIME_API="+runtimeAPI)
}
