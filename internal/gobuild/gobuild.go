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
	args := append(append([]string{"build"}, Flags...), "-o", output, "./"+pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build function %s (GOOS=linux GOARCH=arm64): %v\n%s", pkg, err, bytes.TrimSpace(out))
	}
	return nil
}
