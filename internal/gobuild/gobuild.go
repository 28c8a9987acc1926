// Package gobuild builds the functions' one binary with the local Go
// toolchain (never Docker) for Lambda's provided.al2023 runtime on arm64:
// the one definition of that build, which synthesis and `make lambdas` share.
package gobuild

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
)

// Package is the main package of every function, in the FleetApi module.
const Package = "lambdas/fleetapi"

// Env is what the build adds to the environment: Linux on arm64 (Graviton),
// a static binary.
var Env = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

// Flags are the flags of `go build`: reproducible (no paths, no VCS
// stamp), without the RPC mode the provided runtimes never use, without
// net/http's HTTP/2 (build tag nethttpomithttp2: the functions only call
// DynamoDB and Secrets Manager, whose JSON APIs are served over HTTP/1.1;
// a third of a megabyte less), stripped.
var Flags = []string{"-trimpath", "-buildvcs=false", "-tags", "lambda.norpc,nethttpomithttp2", "-ldflags", "-s -w"}

// Build compiles the package pkg of the module in moduleDir into output,
// the function's bootstrap. The error holds the compiler's message.
func Build(moduleDir, pkg, output string) error {
	if err := goBuild(moduleDir, Env, append(append([]string{}, Flags...), "-o", output, "./"+pkg)...); err != nil {
		return fmt.Errorf("build function %s (GOOS=linux GOARCH=arm64): %w", pkg, err)
	}
	return nil
}

// BuildHere builds pkg as Build does, but for this machine: to run it
// under the Lambda runtime interface emulator in tests and benchmarks.
func BuildHere(moduleDir, pkg, output string) error {
	if err := goBuild(moduleDir, []string{"CGO_ENABLED=0"}, append(append([]string{}, Flags...), "-o", output, "./"+pkg)...); err != nil {
		return fmt.Errorf("build %s for this machine: %w", pkg, err)
	}
	return nil
}

// Emulator is the Lambda runtime interface emulator's command, pinned in
// the tools module (tools/go.mod).
const Emulator = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// BuildEmulator builds the emulator from the tools module in toolsDir.
func BuildEmulator(toolsDir, output string) error {
	if err := goBuild(toolsDir, nil, "-o", output, Emulator); err != nil {
		return fmt.Errorf("build the runtime interface emulator: %w", err)
	}
	return nil
}

func goBuild(dir string, env []string, args ...string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}
