// Package fcemu emulates the Alibaba Cloud Function Compute (FC 3.0) runtime
// API for one compiled Go function (runtime go1, built with fc.Start).
//
// It starts the binary exactly as FC does — FC_RUNTIME_API pointing at a
// local HTTP server plus the FC system environment — and feeds it events
// through the long-poll protocol of fc-runtime-go-sdk:
//
//	GET  /2020-11-11/runtime/invocation/next          -> event + x-fc-* headers
//	POST /2020-11-11/runtime/invocation/{id}/response -> result payload
//	POST /2020-11-11/runtime/invocation/{id}/error    -> function error JSON
//
// Tests and local tooling use it to run real handler binaries end to end
// without deploying them:
//
//	rt, err := fcemu.Start(ctx, fcemu.Function{Name: "ingest", Binary: "./target/main"})
//	defer rt.Close()
//	res, err := rt.Invoke(ctx, []byte(`{"k":"v"}`))
//
// Invoke's error reports emulator-side failures (the process died, the
// invocation timed out, the runtime was closed); an error returned or a
// panic raised by the handler arrives as Result.Error instead, mirroring how
// FC distinguishes platform errors from function errors.
package fcemu
