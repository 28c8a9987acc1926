package layout_test

import (
	"os/exec"
	"strings"
	"testing"
)

// goList runs go list with args from the module's root and returns its
// output's fields.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}

func module(t *testing.T) string { return goList(t, "-m")[0] }

// violations returns the dependencies of pkgs and those of them with one
// of the banned prefixes (a prefix is a path or a tree: "a/b" bans a/b and
// a/b/...).
func violations(t *testing.T, pkgs []string, banned ...string) (deps, bad []string) {
	t.Helper()
	deps = goList(t, append([]string{"-deps"}, pkgs...)...)
	for _, dep := range deps {
		for _, b := range banned {
			if dep == b || strings.HasPrefix(dep, b+"/") {
				bad = append(bad, dep)
			}
		}
	}
	return deps, bad
}

// check fails on every banned dependency of pkgs.
func check(t *testing.T, what string, pkgs []string, banned ...string) []string {
	t.Helper()
	deps, bad := violations(t, pkgs, banned...)
	for _, dep := range bad {
		t.Errorf("%s links %s", what, dep)
	}
	return deps
}

// The checks find what is there: the handlers link the Lambda events
// package, the construct the CDK, a developer tool the runtime, and the
// walk of imports finds a test helper where one is imported.
func TestChecksFindWhatIsLinked(t *testing.T) {
	mod := module(t)
	for _, tt := range []struct {
		pkg, banned string
	}{
		{"./internal/runtime/httpapi", "github.com/aws/aws-lambda-go"},
		{"./constructs/fleetapi", "github.com/aws/aws-cdk-go"},
		{"./internal/local/localapi", mod + "/internal/runtime"},
		{"./internal/testutil/specresponse", mod + "/api"},
	} {
		if _, bad := violations(t, []string{tt.pkg}, tt.banned); len(bad) == 0 {
			t.Errorf("%s: no dependency under %s found, though it has one", tt.pkg, tt.banned)
		}
	}
	if got := testHelperImports(t, mod, "-test"); len(got) == 0 {
		t.Error("with the tests' imports, no import of a test helper found, though tests import them")
	}
}

// ofModule counts the module's own packages among deps.
func ofModule(mod string, deps []string) int {
	n := 0
	for _, d := range deps {
		if d == mod || strings.HasPrefix(d, mod+"/") {
			n++
		}
	}
	return n
}

// tools are the groups of developer tools, by who uses them.
func tools(mod string) []string {
	return []string{mod + "/internal/ops", mod + "/internal/local", mod + "/internal/bench", mod + "/internal/release"}
}

// The function binary links the runtime and the shared declarations only:
// no CDK, no spec parser, no synthesis code, no developer tool.
func TestFunctionBinaryLinksNoCDK(t *testing.T) {
	mod := module(t)
	banned := append(tools(mod),
		"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", "github.com/aws/constructs-go", "github.com/getkin/kin-openapi",
		mod+"/api", mod+"/constructs", mod+"/client", mod+"/internal/construct", mod+"/internal/app", mod+"/internal/testutil")
	// The history writer's Parquet and S3 are its binary's alone.
	deps := check(t, "the function binary", []string{"./lambdas/fleetapi"}, append(banned,
		"github.com/parquet-go", "github.com/aws/aws-sdk-go-v2/service/s3", mod+"/internal/runtime/history", mod+"/internal/runtime/historyapp")...)
	t.Logf("the function binary links %d packages, %d of this module", len(deps), ofModule(mod, deps))
	deps = check(t, "the history writer's binary", []string{"./lambdas/history"}, banned...)
	t.Logf("the history writer's binary links %d packages, %d of this module", len(deps), ofModule(mod, deps))
}

// The construct, and the app that synthesizes the stages, link no runtime
// package, no AWS SDK, no Lambda runtime and no developer tool: another
// team's CDK app that imports the construct compiles none of them. The
// construct links its own helpers (internal/construct), never the app's
// packages (internal/app).
func TestSynthesisLinksNoRuntime(t *testing.T) {
	mod := module(t)
	banned := append(tools(mod), "github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-lambda-go",
		mod+"/internal/runtime", mod+"/internal/testutil", mod+"/client")
	deps := check(t, "the construct", []string{"./constructs/fleetapi"}, append(banned, "github.com/go-json-experiment/json", mod+"/internal/app")...)
	t.Logf("the construct links %d packages, %d of this module", len(deps), ofModule(mod, deps))
	deps = check(t, "the CDK app", []string{"."}, banned...)
	t.Logf("the CDK app links %d packages, %d of this module", len(deps), ofModule(mod, deps))
}

// The shared declarations link only each other: no AWS SDK, no CDK.
func TestSharedLinksOnlyShared(t *testing.T) {
	mod := module(t)
	deps := check(t, "internal/shared", []string{"./internal/shared/..."}, append(tools(mod),
		"github.com/aws", mod+"/api", mod+"/constructs", mod+"/client", mod+"/internal/runtime", mod+"/internal/construct", mod+"/internal/app", mod+"/internal/testutil")...)
	t.Logf("internal/shared links %d packages, %d of this module", len(deps), ofModule(mod, deps))
}

// Each group of developer tools keeps to what its users need, and none
// links a test helper:
//   - release checks (apicompat, breaking, modproxy, snapshot) read the
//     module from outside: they link none of its packages;
//   - operators' tools (preflight, redrive, cost) run against an account
//     or a template: no function code, no local emulator;
//   - load and benchmarks (simulate, coldstart, workload) drive the API as
//     vehicles do, through the client and the agent: no function code;
//   - the local emulators run the functions' code, never an operator's tool
//     or a benchmark (a record format they share is in internal/shared).
func TestToolGroupsKeepTheirBudgets(t *testing.T) {
	mod := module(t)
	others := func(group string) []string {
		var out []string
		for _, g := range tools(mod) {
			if g != mod+"/internal/"+group {
				out = append(out, g)
			}
		}
		return out
	}
	testutil := mod + "/internal/testutil"
	_, bad := violations(t, []string{"./internal/release/..."}, mod)
	for _, dep := range bad {
		if !strings.HasPrefix(dep, mod+"/internal/release") {
			t.Errorf("the release checks link %s", dep)
		}
	}
	check(t, "the operators' tools", []string{"./internal/ops/..."}, mod+"/internal/runtime", mod+"/internal/local", mod+"/internal/release", testutil)
	check(t, "the load tools and benchmarks", []string{"./internal/bench/..."}, mod+"/internal/runtime", mod+"/internal/ops", mod+"/internal/local", mod+"/internal/release", testutil)
	check(t, "the local emulators", []string{"./internal/local/..."}, append(others("local"), testutil)...)
	deps := check(t, "the commands", []string{"./cmd/..."}, testutil)
	t.Logf("the commands link %d packages, %d of this module", len(deps), ofModule(mod, deps))
}

// testHelperImports lists "package imports helper" for each import of a
// test helper by a package outside internal/testutil: of its own code, or
// with flag -test of its tests too.
func testHelperImports(t *testing.T, mod string, flags ...string) []string {
	t.Helper()
	format := "{{.ImportPath}}:{{join .Imports \",\"}}"
	if len(flags) > 0 {
		format = "{{.ImportPath}}:{{join .Imports \",\"}},{{join .TestImports \",\"}},{{join .XTestImports \",\"}}"
	}
	var out []string
	for _, line := range goList(t, "-f", format, "./...") {
		pkg, imports, _ := strings.Cut(line, ":")
		if strings.HasPrefix(pkg, mod+"/internal/testutil/") {
			continue
		}
		for _, imp := range strings.Split(imports, ",") {
			if strings.HasPrefix(imp, mod+"/internal/testutil/") {
				out = append(out, pkg+" imports "+imp)
			}
		}
	}
	return out
}

// Test helpers are imported by tests only: no package's own code imports
// internal/testutil but testutil's.
func TestTestHelpersOnlyFromTests(t *testing.T) {
	mod := module(t)
	for _, bad := range testHelperImports(t, mod) {
		t.Errorf("%s outside its tests", bad)
	}
	t.Logf("%d imports of test helpers, all by tests", len(testHelperImports(t, mod, "-test")))
}

// The vehicle agent, which vehicle software embeds, links the Go client,
// the vehicle's connections it shares with the client (internal/vehicleconn),
// the API's rules of a sample (internal/shared/fleet, which links nothing)
// and the MQTT client of this module's dependencies, none of the rest: no
// CDK, no DynamoDB SDK, no spec parser, no handler, no developer tool.
func TestAgentLinksOnlyTheClient(t *testing.T) {
	mod := module(t)
	banned := []string{"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", "github.com/aws/aws-lambda-go", "github.com/aws/aws-sdk-go-v2/service/dynamodb",
		"github.com/getkin/kin-openapi", "github.com/mochi-mqtt", mod + "/api", mod + "/constructs"}
	for _, pkg := range goList(t, "./internal/...") {
		if pkg != mod+"/internal/vehicleconn" && pkg != mod+"/internal/shared/fleet" {
			banned = append(banned, pkg)
		}
	}
	deps := check(t, "the vehicle agent", []string{"./agent"}, banned...)
	t.Logf("the vehicle agent links %d packages, %d of this module", len(deps), ofModule(mod, deps))
}
