package fleetapi

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
	apihistory "github.com/fleetapi/fleetapi/api/history"
	"github.com/fleetapi/fleetapi/internal/construct/gobuild"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// The functions api/swagger.yaml names (its integrations' uri
// "fleetapi:function:NAME") that VehiclesFunction and EventsFunction
// return; IngestFunction is the upload's, whatever the spec names it.
const (
	functionVehicles = "vehicles"
	functionEvents   = "events"
)

// route is an operation of the spec and the function that serves it.
type route struct {
	id, method, path string
	function         awslambda.Function
	// callers are its caller classes.
	callers []string
}

// functions are the API's functions, by the names the spec gives them,
// and what they do.
type functions struct {
	byName map[string]awslambda.Function
	// aliases are their aliases live, by the same names: what the API,
	// the upload rule and the asynchronous configuration invoke.
	aliases map[string]awslambda.Alias
	// routes are the spec's operations, each with its function.
	routes []route
	// code is the one binary every function runs, build its bundling.
	code  awslambda.Code
	build *goBuild
	// tableOperations lists, per table, the DynamoDB operations the
	// functions perform on it (GetItem, as the Operation dimension names
	// them): what the throttle and error metrics sum.
	tableOperations map[awsdynamodb.Table][]string
	// uploadName names the function that serves the upload.
	uploadName string
}

// sorted lists the function names, sorted: the order of their alarms and
// dashboard rows.
func (fs functions) sorted() []string { return slices.Sorted(maps.Keys(fs.byName)) }

// upload is the function that serves the spec's upload, and its alias.
func (fs functions) upload(spec *api.Spec) (awslambda.Function, awslambda.Alias) {
	name := spec.Upload().Function
	return fs.byName[name], fs.aliases[name]
}

// names are the functions' names (a token until deployed) by the spec's
// name for them: the dimension of their metrics.
func (fs functions) names() map[string]*string {
	out := make(map[string]*string, len(fs.byName))
	for name, fn := range fs.byName {
		out[name] = fn.FunctionName()
	}
	return out
}

// newFunctions defines one function per function the spec names, serving
// the operations the spec gives it, with the DynamoDB actions those
// operations declare (api.ExtDynamoDB) on only the tables they touch.
// All run one binary, built once: each serves the routes of its
// environment. The fleet classes' grants reach their environment when the
// template is written (grants).
func newFunctions(scope constructs.Construct, p FleetApiProps, spec *api.Spec, t tables, vehicleRole awsiam.IRole, grants *grantRegistry) functions {
	// The module's own source builds through the cache (gobuild.BuildCached);
	// a test's module of its own builds without it.
	moduleDir, cacheDir := p.moduleDir, ""
	if moduleDir == "" {
		dir, err := findModuleDir()
		if err != nil {
			panic(fmt.Errorf("fleetapi: %w", err))
		}
		moduleDir, cacheDir = dir, gobuild.CacheDir()
	}
	// Signs pagination cursors; losing it only invalidates open cursors.
	cursorKey := awssecretsmanager.NewSecret(scope, jsii.String("CursorKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Signs the pagination cursors of the FleetApi"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	byRole := t.byRole()
	retentionDays := strconv.FormatFloat(*p.EventRetention.ToDays(nil), 'f', 0, 64)
	build, code := goBinary(moduleDir, gobuild.Package, cacheDir)

	out := functions{byName: map[string]awslambda.Function{}, aliases: map[string]awslambda.Alias{}, tableOperations: map[awsdynamodb.Table][]string{},
		code: code, build: build, uploadName: spec.Upload().Function}
	for _, name := range spec.Functions() {
		routes := spec.RoutesOf(name)
		var ops []string
		for _, r := range routes {
			ops = append(ops, r.Operation)
		}
		access := spec.AccessOf(name)
		id := exportedName(name)
		logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
			Retention:     p.LogRetention,
			RemovalPolicy: p.RemovalPolicy,
		})
		env := map[string]*string{
			contract.EnvRoutes:             jsii.String(contract.FormatRoutes(routes)),
			contract.EnvVehiclesTable:      t.vehicles.TableName(),
			contract.EnvEventsTable:        t.events.TableName(),
			contract.EnvEventRetentionDays: jsii.String(retentionDays),
			contract.EnvStateTable:         t.state.TableName(),
			contract.EnvVehicleRole:        vehicleRole.RoleArn(),
		}
		if *p.History {
			database, workGroup := historyNames(scope)
			env[contract.EnvHistory] = jsii.String(contract.FormatHistory(database, apihistory.Table, workGroup))
			env[contract.EnvHistoryRetentionDays] = jsii.String(strconv.FormatFloat(*p.HistoryRetention.ToDays(nil), 'f', 0, 64))
		}
		// Operations only vehicles call are never granted (GrantInvoke).
		if slices.ContainsFunc(routes, func(r contract.Route) bool { return slices.ContainsFunc(r.Callers, contract.IsFleetClass) }) {
			env[contract.EnvPrincipals] = grants.principalsOf(ops)
		}
		if spec.Paginates(name) {
			env[contract.EnvCursorKeySecret] = cursorKey.SecretArn()
		}
		// A role of its own, without AWSLambdaBasicExecutionRole (logs on
		// every log group): the function may write to its log group only.
		role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String(fmt.Sprintf("FleetApi %s function", name)),
		})
		logs.GrantWrite(role)
		// The upload's function serves most invocations, most of them the
		// upload rule's over MQTT: it traces what API Gateway sampled (the
		// stage traces) and nothing else, the rule's invocations carrying no
		// trace header, and writes no start and report lines (system log
		// level WARN) beside its own line per upload. The others trace
		// every request Lambda samples, and log its platform lines.
		tracing, platform := awslambda.Tracing_ACTIVE, awslambda.SystemLogLevel_INFO
		if name == spec.Upload().Function {
			tracing, platform = awslambda.Tracing_PASS_THROUGH, awslambda.SystemLogLevel_WARN
		}
		fn := newFunction(build, scope, id+"Function", &awslambda.FunctionProps{
			Description:                  jsii.String(fmt.Sprintf("FleetApi %s: %s", name, strings.Join(ops, ", "))),
			Runtime:                      awslambda.Runtime_PROVIDED_AL2023(),
			Architecture:                 awslambda.Architecture_ARM_64(),
			Handler:                      jsii.String("bootstrap"),
			Code:                         code,
			MemorySize:                   p.MemorySize,
			Timeout:                      p.Timeout,
			ReservedConcurrentExecutions: p.ReservedConcurrentExecutions,
			Tracing:                      tracing,
			Role:                         role,
			LogGroup:                     logs,
			LoggingFormat:                awslambda.LoggingFormat_JSON,
			SystemLogLevelV2:             platform,
			Environment:                  &env,
		})
		for _, tableRole := range slices.Sorted(maps.Keys(access)) {
			table := byRole[tableRole]
			fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings(access[tableRole]...),
				Resources: jsii.Strings(*table.TableArn()),
			}))
			for _, action := range access[tableRole] {
				op := strings.TrimPrefix(action, "dynamodb:")
				if !slices.Contains(out.tableOperations[table], op) {
					out.tableOperations[table] = append(out.tableOperations[table], op)
				}
			}
		}
		for _, op := range spec.OperationsOf(name) {
			out.routes = append(out.routes, route{id: op.ID, method: op.Method, path: op.Path, function: fn, callers: op.Callers})
		}
		if spec.Paginates(name) {
			cursorKey.GrantRead(fn, nil)
		}
		if name == out.uploadName {
			newSamplesIngestedFilter(scope, logs)
		}
		out.byName[name] = fn
		out.aliases[name] = newAlias(scope, id, fn)
	}
	return out
}

// newFunction defines a function whose code build bundles, failing with the
// compiler's message when the build fails.
// goBinary is the asset of a main package of the module, built with the
// local Go toolchain (never Docker) through the cache when there is one.
func goBinary(moduleDir, pkg, cacheDir string) (*goBuild, awslambda.Code) {
	build := &goBuild{moduleDir: moduleDir, pkg: pkg, cacheDir: cacheDir}
	return build, awslambda.Code_FromAsset(jsii.String(filepath.Join(moduleDir, pkg)), &awss3assets.AssetOptions{
		// The hash of the built binary: a change in any package it links
		// changes it, whether or not the binary came from the build cache.
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			// Required by the API, never pulled: local bundling always succeeds or fails the synthesis.
			Image: awscdk.DockerImage_FromRegistry(jsii.String("local-go-toolchain-only")),
			Local: build,
		},
	})
}

func newFunction(build *goBuild, scope constructs.Construct, id string, props *awslambda.FunctionProps) awslambda.Function {
	defer build.check()
	return awslambda.NewFunction(scope, jsii.String(id), props)
}

// FunctionOf returns the function that serves an operation (an operationId
// of api/swagger.yaml); an unknown operation panics, naming the known ones.
func (f *FleetApi) FunctionOf(operation string) awslambda.IFunction {
	for _, op := range f.functions.routes {
		if op.id == operation {
			return op.function
		}
	}
	panic(fmt.Errorf("fleetapi %q: unknown operation %q: known operations are %s", *f.Node().Id(), operation, strings.Join(f.spec.IDs(), ", ")))
}

// VehiclesFunction serves the vehicle registry: the operations on
// /vehicles and /vehicles/{vid}.
func (f *FleetApi) VehiclesFunction() awslambda.IFunction {
	return f.functions.byName[functionVehicles]
}

// EventsFunction serves the reads of events.
func (f *FleetApi) EventsFunction() awslambda.IFunction { return f.functions.byName[functionEvents] }

// IngestFunction serves the uploads of samples: the spec's upload
// (x-fleetapi-upload), and, with MqttUploads, the upload rule's messages.
func (f *FleetApi) IngestFunction() awslambda.IFunction {
	fn, _ := f.functions.upload(f.spec)
	return fn
}
