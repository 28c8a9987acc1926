package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/release/modproxy"
)

// consumerVersion returns the version of FleetApi examples/consumer
// requires; only the local module proxy serves it.
func consumerVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", "consumer", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == modproxy.Module {
			return r.Mod.Version
		}
	}
	t.Fatalf("examples/consumer does not require %s", modproxy.Module)
	return ""
}

// TestConsumerApp synthesizes examples/consumer, another team's app that
// composes FleetApi in its own stack, the way that team gets it: the
// version its go.mod requires, from a module proxy (here a file-based one
// serving this checkout's tracked files), with no replace directive, so
// that the functions are built from the read-only module cache.
func TestConsumerApp(t *testing.T) {
	proxy := t.TempDir()
	base := consumerVersion(t)
	version, err := modproxy.Write(proxy, "..", base)
	if err != nil {
		t.Fatal(err)
	}
	if err := modproxy.PruneCache(base, version); err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		data, err := os.ReadFile(filepath.Join("..", "examples", "consumer", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(app, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goproxy, _ := exec.Command("go", "env", "GOPROXY").Output()
	env := append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+","+strings.TrimSpace(string(goproxy)),
		"GONOSUMDB="+modproxy.Module, "GOFLAGS=-buildvcs=false")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = app, env
		if log, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, log)
		}
	}
	run("go", "mod", "edit", "-require="+modproxy.Module+"@"+version)
	run("go", "mod", "tidy")
	// The example is tidy: tidying adds only FleetApi's own sums, which
	// change with every commit and so stay out of its go.sum, and the
	// version served in place of the one it requires.
	for _, name := range []string{"go.mod", "go.sum"} {
		committed, _ := os.ReadFile(filepath.Join("..", "examples", "consumer", name))
		tidied, _ := os.ReadFile(filepath.Join(app, name))
		var kept []string
		for _, line := range strings.SplitAfter(strings.ReplaceAll(string(tidied), version, base), "\n") {
			if !strings.HasPrefix(line, modproxy.Module+" ") {
				kept = append(kept, line)
			}
		}
		if strings.Join(kept, "") != string(committed) {
			t.Errorf("examples/consumer/%s is not what go mod tidy makes:\n%s", name, tidied)
		}
	}
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", modproxy.Module)
	list.Dir, list.Env = app, env
	dir, err := list.Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", modproxy.Module, err)
	}
	// Wherever GOMODCACHE is: the go command's, not a path of the usual layout.
	cacheCmd := exec.Command("go", "env", "GOMODCACHE")
	cacheCmd.Dir, cacheCmd.Env = app, env
	cache, err := cacheCmd.Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	modDir, modCache := strings.TrimSpace(string(dir)), strings.TrimSpace(string(cache))
	if rel, err := filepath.Rel(modCache, modDir); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		t.Fatalf("FleetApi comes from %s, want the module cache %s", modDir, modCache)
	}
	out := t.TempDir()
	env = append(env, "CDK_OUTDIR="+out)
	run("go", "run", ".")
	data, err := os.ReadFile(filepath.Join(out, "Telemetry.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]resource
		Outputs   map[string]any
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range doc.Resources {
		count[r.Type]++
	}
	// The construct's own resources, the consumer's function, and no
	// account-wide API Gateway role (the construct's default).
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string]int{
		// The tracker is a function, its figures' schedule a permission.
		"AWS::DynamoDB::Table": 3, "AWS::Lambda::Function": len(spec.Functions()) + 2, "AWS::ApiGateway::RestApi": 1,
		"AWS::ApiGateway::Account": 0, "AWS::Lambda::Permission": len(spec.Operations) + 1,
	} {
		if count[typ] != want {
			t.Errorf("%d %s, want %d", count[typ], typ, want)
		}
	}
	// Logical IDs depend only on the construct ID: the same as in FleetApi's own stacks.
	for _, id := range []string{vehiclesTableID, eventsTableID, stateTableID} {
		if doc.Resources[id].Type != "AWS::DynamoDB::Table" {
			t.Errorf("table %s not found", id)
		}
	}
	// The consumer reads events through the API, never the tables: their
	// items are FleetApi's own format.
	for id, p := range doc.Resources {
		b, _ := json.Marshal(p.Properties)
		if p.Type == "AWS::IAM::Policy" && strings.Contains(string(b), "DailyReport") && strings.Contains(string(b), `"dynamodb:`) {
			t.Errorf("%s: the consumer's function is granted DynamoDB access: %s", id, b)
		}
	}
	var invokes bool
	for _, p := range doc.Resources {
		b, _ := json.Marshal(p.Properties)
		if p.Type == "AWS::IAM::Policy" && strings.Contains(string(b), "DailyReport") && strings.Contains(string(b), `"execute-api:Invoke"`) &&
			strings.Contains(string(b), "/GET/vehicles/*/events") {
			invokes = true
		}
	}
	if !invokes {
		t.Error("the consumer's function was not granted execute-api:Invoke on the event reads")
	}
	if _, ok := doc.Outputs["FleetApiUrl"]; !ok {
		t.Error("the consumer's output of the API URL is missing")
	}
}
