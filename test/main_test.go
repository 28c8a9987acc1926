// Package test synthesizes the FleetApi app for every stage of cdk.json and
// checks the templates: assertions, cost allocation tags, and snapshots
// compared with the golden files in testdata/.
package test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/fleetstack"
	"github.com/fleetapi/fleetapi/internal/stage"
)

var update = flag.Bool("update", os.Getenv("UPDATE_SNAPSHOTS") == "1", "rewrite the golden templates in testdata/")

// cdkContext is the "context" object of cdk.json, the stage table included.
var cdkContext map[string]any

// stageNames lists the stages of cdk.json, sorted.
var stageNames []string

func TestMain(m *testing.M) {
	flag.Parse()
	if err := loadCdkJSON(filepath.Join("..", "cdk.json")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

func loadCdkJSON(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read cdk.json: %w", err)
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse cdk.json: %w", err)
	}
	cfgs, err := stage.All(doc.Context[stage.ContextKeyStages])
	if err != nil {
		return fmt.Errorf("cdk.json: %w", err)
	}
	for _, c := range cfgs {
		stageNames = append(stageNames, c.Name)
	}
	cdkContext = doc.Context
	return nil
}

// synthesis is one stage's app, synthesized as `cdk synth --context stage=NAME` would.
type synthesis struct {
	stack awscdk.Stack
	// template is the template file the synthesis wrote, byte for byte.
	template []byte
	// resources is the template's Resources section, by logical ID.
	resources map[string]resource
	err       error
}

type resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	DeletionPolicy string         `json:"DeletionPolicy"`
	Metadata       map[string]any `json:"Metadata"`
	UpdateReplace  string         `json:"UpdateReplacePolicy"`
}

var (
	synthMu    sync.Mutex
	synthCache = map[string]*synthesis{}
)

// synth synthesizes a stage once per test binary and returns the result.
func synth(t *testing.T, stageName string) *synthesis {
	t.Helper()
	synthMu.Lock()
	s, ok := synthCache[stageName]
	if !ok {
		s = synthesize(stageName, t.TempDir())
		synthCache[stageName] = s
	}
	synthMu.Unlock()
	if s.err != nil {
		t.Fatalf("synthesize stage %s: %v", stageName, s.err)
	}
	return s
}

func synthesize(stageName, outdir string) (s *synthesis) {
	s = &synthesis{}
	defer func() {
		// jsii reports CDK errors as panics.
		if r := recover(); r != nil {
			s.err = fmt.Errorf("panic: %v", r)
		}
	}()
	ctx := make(map[string]any, len(cdkContext)+1)
	for k, v := range cdkContext {
		ctx[k] = v
	}
	ctx[stage.ContextKeyStage] = stageName
	// What the CLI adds to the context of `cdk synth`, so that the template
	// is byte for byte the one the CLI writes.
	ctx["aws:cdk:enable-path-metadata"] = true
	ctx["aws:cdk:enable-asset-metadata"] = true
	app := awscdk.NewApp(&awscdk.AppProps{
		Context: &ctx,
		Outdir:  jsii.String(outdir),
		// cdk.json's "versionReporting": false.
		AnalyticsReporting: jsii.Bool(false),
	})
	stack, err := fleetstack.FromContext(app)
	if err != nil {
		s.err = err
		return s
	}
	assembly := app.Synth(nil)
	path := *assembly.GetStackByName(stack.StackName()).TemplateFullPath()
	data, err := os.ReadFile(path)
	if err != nil {
		s.err = err
		return s
	}
	var doc struct {
		Resources map[string]resource `json:"Resources"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		s.err = fmt.Errorf("parse %s: %w", path, err)
		return s
	}
	s.stack, s.template, s.resources = stack, data, doc.Resources
	return s
}

// resourcesOfType returns the logical IDs and resources of one type.
func (s *synthesis) resourcesOfType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range s.resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// forEachStage runs f as a subtest for every stage of cdk.json.
func forEachStage(t *testing.T, f func(t *testing.T, stageName string, s *synthesis)) {
	t.Helper()
	if len(stageNames) == 0 {
		t.Fatal("cdk.json declares no stage")
	}
	for _, name := range stageNames {
		t.Run(name, func(t *testing.T) { f(t, name, synth(t, name)) })
	}
}

// stageConfig returns the decoded settings of a stage of cdk.json.
func stageConfig(t *testing.T, stageName string) stage.Config {
	t.Helper()
	cfg, err := stage.Select(cdkContext[stage.ContextKeyStages], stageName)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
