package test

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/fleetapi/fleetapi/api"
)

// TestConsumerApp synthesizes examples/consumer, another team's app that
// composes FleetApi in its own stack, the way that team gets it: as a
// versioned module from a module proxy (here a file-based one serving this
// checkout's tracked files as v0.1.0-local), with no replace directive, so
// that the functions are built from the read-only module cache.
func TestConsumerApp(t *testing.T) {
	const version = "v0.1.0-local"
	proxy := moduleProxy(t, version)
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
		"GONOSUMDB="+fleetapiModule, "GOFLAGS=-buildvcs=false")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = app, env
		if log, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, log)
		}
	}
	run("go", "mod", "edit", "-dropreplace="+fleetapiModule, "-require="+fleetapiModule+"@"+version)
	run("go", "mod", "tidy")
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", fleetapiModule)
	list.Dir, list.Env = app, env
	dir, err := list.CombinedOutput()
	if err != nil || !strings.Contains(string(dir), "pkg/mod") {
		t.Fatalf("FleetApi comes from %s (%v), want the module cache", dir, err)
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
		"AWS::DynamoDB::Table": 2, "AWS::Lambda::Function": len(spec.Functions()) + 1, "AWS::ApiGateway::RestApi": 1,
		"AWS::ApiGateway::Account": 0, "AWS::Lambda::Permission": len(spec.Operations),
	} {
		if count[typ] != want {
			t.Errorf("%d %s, want %d", count[typ], typ, want)
		}
	}
	// Logical IDs depend only on the construct ID: the same as in FleetApi's own stacks.
	for _, id := range []string{vehiclesTableID, eventsTableID} {
		if doc.Resources[id].Type != "AWS::DynamoDB::Table" {
			t.Errorf("table %s not found", id)
		}
	}
	var granted bool
	for _, p := range doc.Resources {
		if p.Type != "AWS::IAM::Policy" {
			continue
		}
		b, _ := json.Marshal(p.Properties)
		s := string(b)
		if strings.Contains(s, "DailyReport") && strings.Contains(s, `"dynamodb:Query"`) && strings.Contains(s, eventsTableID) {
			granted = true
		}
	}
	if !granted {
		t.Error("the consumer's function was not granted read access to the events table")
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

const fleetapiModule = "github.com/fleetapi/fleetapi"

// moduleProxy writes a file-based Go module proxy (GOPROXY=file://...)
// serving the files git tracks in this checkout, as they are in the work
// tree, as version of the FleetApi module. Nested modules are left out,
// as a module zip leaves them out.
func moduleProxy(t *testing.T, version string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ls, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a checkout)", err)
	}
	var files []modzip.File
	for _, name := range strings.Split(strings.TrimRight(string(ls), "\x00"), "\x00") {
		if strings.HasPrefix(name, "examples/consumer/") || strings.HasPrefix(name, "tools/") {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, name)); err != nil {
			continue // deleted in the work tree
		}
		files = append(files, trackedFile{root: root, name: name})
	}
	proxy := t.TempDir()
	dir := filepath.Join(proxy, filepath.FromSlash(fleetapiModule), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	zf, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zf.Close()
	if err := modzip.Create(zf, module.Version{Path: fleetapiModule, Version: version}, files); err != nil {
		t.Fatalf("module zip: %v", err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		version + ".mod":  gomod,
		version + ".info": []byte(`{"Version":"` + version + `","Time":"2026-11-26T00:00:00Z"}`),
		"list":            []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return proxy
}

// trackedFile is a file of the work tree, for modzip.Create.
type trackedFile struct{ root, name string }

func (f trackedFile) Path() string                 { return f.name }
func (f trackedFile) Lstat() (os.FileInfo, error)  { return os.Lstat(filepath.Join(f.root, f.name)) }
func (f trackedFile) Open() (io.ReadCloser, error) { return os.Open(filepath.Join(f.root, f.name)) }
