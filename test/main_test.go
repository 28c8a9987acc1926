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
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/fleetapi/fleetapi/internal/app/fleetstack"
	"github.com/fleetapi/fleetapi/internal/app/stage"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

var update = flag.Bool("update", os.Getenv("UPDATE_SNAPSHOTS") == "1", "rewrite the golden templates in testdata/")

// Logical IDs that are a contract: renaming one replaces the resource, and
// a replaced table loses its data. Declared once, here.
const (
	vehiclesTableID    = "FleetVehiclesED93DD14"
	eventsTableID      = "FleetVehicleEvents3AE12A76"
	stateTableID       = "FleetVehicleStateED3E1C06"
	cursorKeyID        = "FleetCursorKey0DA9F18E"
	vehiclesFunctionID = "FleetVehiclesFunctionBF4866FB"
	eventsFunctionID   = "FleetEventsFunctionC221D635"
	ingestFunctionID   = "FleetIngestFunction1206F197"
	// The ingest function's alias live: its callers invoke it.
	ingestAliasID  = "FleetIngestLive1C01ED9F"
	vehiclesLogsID = "FleetVehiclesLogsB5C4C63B"
	eventsLogsID   = "FleetEventsLogs5318EDC6"
	ingestLogsID   = "FleetIngestLogs12CFEB51"
	// The synthetic vehicle's functions (TestSyntheticVehicle).
	syntheticFunctionID = "FleetSyntheticVehicleFunctionF826A92C"
	syntheticProviderID = "FleetSyntheticVehicleProviderFunction9568835F"
	// The tracker (TestTracker).
	trackerFunctionID = "FleetTrackerFunction1273CF74"
	trackerAliasID    = "FleetTrackerLiveF1C6459D"
	trackerQueueID    = "FleetTrackerFailures8DB602D9"
)

// cdkContext is the "context" object of cdk.json, the stage table included.
var cdkContext map[string]any

// stageNames lists the stages of cdk.json, sorted.
var stageNames []string

func TestMain(m *testing.M) {
	flag.Parse()
	// Every test here synthesizes the stages or runs the CDK CLI.
	if testing.Short() {
		fmt.Println("test: synthesis skipped under -short")
		os.Exit(0)
	}
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
	// annotations are the warnings and errors of the stack's constructs, cdk-nag's among them.
	annotations []annotation
	err         error
}

// annotation is one message of the cloud assembly's manifest.
type annotation struct {
	Path  string
	Level string // aws:cdk:warning, aws:cdk:error, aws:cdk:info
	Text  string
}

// readValidationReport lists the violations of a cloud assembly's
// validation report as "message at construct path (logical ID)".
func readValidationReport(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var report struct {
		PluginReports []struct {
			Violations []struct {
				Description         string `json:"description"`
				Severity            string `json:"severity"`
				ViolatingConstructs []struct {
					ConstructPath          string `json:"constructPath"`
					CloudFormationResource struct {
						LogicalID string `json:"logicalId"`
					} `json:"cloudFormationResource"`
				} `json:"violatingConstructs"`
			} `json:"violations"`
		} `json:"pluginReports"`
	}
	if json.Unmarshal(data, &report) != nil {
		return []string{"unreadable validation report " + path}
	}
	var out []string
	for _, p := range report.PluginReports {
		for _, v := range p.Violations {
			for _, c := range v.ViolatingConstructs {
				out = append(out, fmt.Sprintf("%s: %s at %s (%s)", v.Severity, strings.TrimSpace(v.Description), c.ConstructPath, c.CloudFormationResource.LogicalID))
			}
		}
	}
	slices.Sort(out)
	return out
}

// readAnnotations reads a stack's messages from a cloud assembly manifest
// (cloud-assembly-schema: artifacts.ID.metadata, by construct path, or the
// file artifacts.ID.additionalMetadataFile names, where the CDK now writes
// them).
func readAnnotations(manifest, artifactID string) ([]annotation, error) {
	data, err := os.ReadFile(manifest)
	if err != nil {
		return nil, err
	}
	type entries = map[string][]struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}
	var doc struct {
		Artifacts map[string]struct {
			Metadata               entries `json:"metadata"`
			AdditionalMetadataFile string  `json:"additionalMetadataFile"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", manifest, err)
	}
	artifact := doc.Artifacts[artifactID]
	metadata := artifact.Metadata
	if f := artifact.AdditionalMetadataFile; f != "" {
		more, err := os.ReadFile(filepath.Join(filepath.Dir(manifest), f))
		if err != nil {
			return nil, err
		}
		var extra entries
		if err := json.Unmarshal(more, &extra); err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		if metadata == nil {
			metadata = entries{}
		}
		for path, e := range extra {
			metadata[path] = append(metadata[path], e...)
		}
	}
	var out []annotation
	for path, entries := range metadata {
		for _, e := range entries {
			if strings.HasPrefix(e.Type, "aws:cdk:") && (strings.HasSuffix(e.Type, "warning") || strings.HasSuffix(e.Type, "error") || strings.HasSuffix(e.Type, "info")) {
				out = append(out, annotation{Path: path, Level: e.Type, Text: fmt.Sprint(e.Data)})
			}
		}
	}
	return out, nil
}

type resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	DeletionPolicy string         `json:"DeletionPolicy"`
	Metadata       map[string]any `json:"Metadata"`
	UpdateReplace  string         `json:"UpdateReplacePolicy"`
	UpdatePolicy   map[string]any `json:"UpdatePolicy"`
	DependsOn      any            `json:"DependsOn"`
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
			// An error annotation (a cdk-nag finding among them) fails the
			// synthesis with a validation report: name each violation.
			if violations := readValidationReport(filepath.Join(outdir, "validation-report.json")); len(violations) > 0 {
				s.err = fmt.Errorf("the synthesis failed validation:\n  %s", strings.Join(violations, "\n  "))
			}
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
	// cdk-nag's packs report their findings as annotations of the
	// resources; they change nothing in the template.
	for _, pack := range []awscdk.IAspect{
		cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}),
		cdknag.NewServerlessChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}),
	} {
		awscdk.Aspects_Of(app).Add(pack, nil)
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
	if s.annotations, err = readAnnotations(filepath.Join(outdir, "manifest.json"), *stack.ArtifactId()); err != nil {
		s.err = err
	}
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

// apiFunctions returns the functions that serve the API's operations (their
// environment names their routes), by logical ID: the synthetic vehicle's
// are not among them (TestSyntheticVehicle).
func (s *synthesis) apiFunctions() map[string]resource {
	out := map[string]resource{}
	for id, fn := range s.resourcesOfType("AWS::Lambda::Function") {
		vars, _ := dig(fn.Properties, "Environment", "Variables").(map[string]any)
		if _, ok := vars[contract.EnvRoutes]; ok {
			out[id] = fn
		}
	}
	return out
}

// idOfPath returns the logical ID of the resource whose construct path
// (aws:cdk:path) ends with "/"+suffix, e.g. "Fleet/VehicleRole/Resource".
func (s *synthesis) idOfPath(t *testing.T, suffix string) string {
	t.Helper()
	for id, r := range s.resources {
		if path, _ := r.Metadata["aws:cdk:path"].(string); strings.HasSuffix(path, "/"+suffix) {
			return id
		}
	}
	t.Fatalf("no resource at construct path .../%s", suffix)
	return ""
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
