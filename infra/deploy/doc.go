// Package deploy checks the deployment description of ndrtrace against the
// code, without a cloud account, Terraform or Serverless Devs:
//
//   - s.yaml (Serverless Devs 3.x, fc3 component) declares every function of
//     functions/ with the go1 runtime, the build output as its code and the
//     triggers the fc3 schema requires (TestSYAML);
//   - infra/terraform and infra/terraform/member-role parse as HCL
//     (TestTerraformParses);
//   - every RAM policy grants exactly the actions the code can call: the
//     actions are derived from the Go sources by ScanActions, which type-checks
//     the module and follows each function binary's call graph to the SDK
//     calls it can reach (TestRAMPolicies);
//   - each function, built and zipped as `make package` does, starts under
//     the FC runtime-API emulator and answers an event (TestPackagedFunctions).
//
// The scanner lives outside the tests so that it can be reused; the tests
// are the product.
package deploy
