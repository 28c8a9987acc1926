package fleetapi

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/construct/gobuild"
)

// modulePath is the Go module that holds the functions' source.
const modulePath = "github.com/fleetapi/fleetapi"

// goBuild bundles the functions' binary with the local Go toolchain
// (package gobuild). It implements
// awscdk.ILocalBundling. CDK never falls back to Docker: a failed build
// reports success with no output, which CDK refuses, and newFunction then
// fails the synthesis with the compiler's message kept in err. (Panicking
// inside the jsii callback would leave the jsii kernel waiting for it.)
type goBuild struct {
	// moduleDir is the directory of the FleetApi module; pkg the main
	// package inside it, gobuild.Package.
	moduleDir string
	pkg       string
	// cacheDir keeps the binary between syntheses (gobuild.BuildCached),
	// so that one with the functions unchanged does not link them again;
	// "" builds straight into the bundle.
	cacheDir string
	err      error
}

var _ awscdk.ILocalBundling = (*goBuild)(nil)

// TryBundle builds bootstrap for Lambda's provided.al2023 runtime on arm64.
func (g *goBuild) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	output := filepath.Join(*outputDir, "bootstrap")
	if g.cacheDir == "" {
		g.err = gobuild.Build(g.moduleDir, g.pkg, output)
	} else {
		g.err = gobuild.BuildCached(g.cacheDir, g.moduleDir, g.pkg, output)
	}
	return jsii.Bool(true)
}

// check turns CDK's complaint about an empty bundle back into the build
// error that caused it; call it deferred around the construct that bundles.
func (g *goBuild) check() {
	if r := recover(); r != nil {
		if g.err != nil {
			panic(g.err)
		}
		panic(r)
	}
}

// findModuleDir locates the FleetApi module's source: the checkout itself
// when synthesizing this repository, or the module cache copy when another
// team's app imports the construct.
func findModuleDir() (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", modulePath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locate the source of %s with `go list -m`: %v: %s", modulePath, err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("locate the source of %s: `go list -m` found no directory; run `go mod download %s`", modulePath, modulePath)
	}
	return dir, nil
}
