// Package lambdaapp wires a FleetApi function from its environment: the
// SDK clients and store are built once per cold start, with no network
// call, then lambda.Start serves every invocation with the same handler.
package lambdaapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fleetapi/fleetapi/internal/runtime/authz"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/httpapi"
	"github.com/fleetapi/fleetapi/internal/runtime/lambdalog"
	"github.com/fleetapi/fleetapi/internal/runtime/tracker"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// Env is a function's configuration, read from its environment
// (contract.Env*).
type Env struct {
	Routes         []contract.Route
	Tables         dynamostore.Tables
	EventRetention time.Duration
	// HistoryRetention is the history's, 0 without one.
	HistoryRetention time.Duration
	CursorSecret     string
	// Callers says who may call which operation (contract.EnvVehicleRole,
	// contract.EnvPrincipals).
	Callers *authz.Policy
}

// ReadEnv reads and checks the environment; getenv is os.Getenv in Lambda.
// The cursor key secret is checked by the functions that list.
func ReadEnv(getenv func(string) string) (Env, error) {
	e := Env{
		Tables:       dynamostore.Tables{Vehicles: getenv(contract.EnvVehiclesTable), Events: getenv(contract.EnvEventsTable), State: getenv(contract.EnvStateTable)},
		CursorSecret: getenv(contract.EnvCursorKeySecret),
	}
	var missing []string
	for _, name := range []string{contract.EnvRoutes, contract.EnvVehiclesTable, contract.EnvEventsTable, contract.EnvVehicleRole} {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Env{}, fmt.Errorf("missing environment variables %v", missing)
	}
	routes, err := contract.ParseRoutes(getenv(contract.EnvRoutes))
	if err != nil {
		return Env{}, fmt.Errorf("%s: %w", contract.EnvRoutes, err)
	}
	for _, r := range routes {
		if err := implemented(r.Operation); err != nil {
			return Env{}, fmt.Errorf("%s: %w", contract.EnvRoutes, err)
		}
	}
	e.Routes = routes
	if httpapi.ReadsState(routes) && e.Tables.State == "" {
		return Env{}, fmt.Errorf("missing environment variable %s: %s reads the vehicles' state", contract.EnvStateTable, contract.EnvRoutes)
	}
	days, err := strconv.Atoi(getenv(contract.EnvEventRetentionDays))
	if err != nil || days < 1 {
		return Env{}, fmt.Errorf("%s must be a positive whole number, got %q", contract.EnvEventRetentionDays, getenv(contract.EnvEventRetentionDays))
	}
	e.EventRetention = time.Duration(days) * 24 * time.Hour
	if v := getenv(contract.EnvHistoryRetentionDays); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 1 {
			return Env{}, fmt.Errorf("%s must be a positive whole number, got %q", contract.EnvHistoryRetentionDays, v)
		}
		e.HistoryRetention = time.Duration(days) * 24 * time.Hour
	}
	principals, err := contract.ParsePrincipals(getenv(contract.EnvPrincipals))
	if err != nil {
		return Env{}, fmt.Errorf("%s: %w", contract.EnvPrincipals, err)
	}
	for arn, ops := range principals {
		for _, op := range ops {
			if err := implemented(op); err != nil {
				return Env{}, fmt.Errorf("%s: principal %q: %w", contract.EnvPrincipals, arn, err)
			}
		}
	}
	if e.Callers, err = authz.New(getenv(contract.EnvVehicleRole), principals); err != nil {
		return Env{}, fmt.Errorf("%s, %s: %w", contract.EnvVehicleRole, contract.EnvPrincipals, err)
	}
	return e, nil
}

// implemented requires an operation the binary implements.
func implemented(op string) error {
	if !slices.Contains(httpapi.Operations(), op) {
		return fmt.Errorf("unknown operation %q: implemented are %s", op, strings.Join(httpapi.Operations(), ", "))
	}
	return nil
}

// Run builds the handler of the operations the function's environment
// names and serves it. Every function of the API runs the same binary.
func Run() { Serve(handler) }

// Serve builds a function's handler from its environment, with the
// functions' logger, and serves it; on a configuration error it logs and
// exits, and Lambda reports the failed init.
func Serve(build func(getenv func(string) string, logger *slog.Logger) (any, error)) {
	logger := lambdalog.New(os.Stdout, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	h, err := build(os.Getenv, logger)
	if err != nil {
		logger.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

// handler is what the function serves (contract.EnvServes): API Gateway's
// proxy events and the upload rule's, the synthetic vehicle's schedule, or
// its custom resource.
func handler(getenv func(string) string, logger *slog.Logger) (any, error) {
	switch serves := getenv(contract.EnvServes); serves {
	case "":
		return build(logger)
	case contract.ServesSyntheticVehicle:
		env, err := ReadSyntheticEnv(getenv)
		if err != nil {
			return nil, err
		}
		cfg, err := AWSConfig(getenv)
		if err != nil {
			return nil, err
		}
		sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = Endpoint(getenv, "SECRETS_MANAGER") })
		return NewSyntheticHandler(env, sm, cfg.Credentials, logger).Invoke, nil
	case contract.ServesSyntheticVehicleProvider:
		p, err := BuildProvisioner(getenv)
		if err != nil {
			return nil, err
		}
		return cfn.LambdaWrap(p.Handle), nil
	case contract.ServesTracker:
		t, err := BuildTracker(getenv, logger)
		if err != nil {
			return nil, err
		}
		return t.Invoke, nil
	case contract.ServesHistory:
		return nil, fmt.Errorf("%s %q: the history writer is a binary of its own (lambdas/history), which keeps Parquet and S3 out of this one", contract.EnvServes, serves)
	default:
		return nil, fmt.Errorf("%s %q: allowed are unset (the operations of %s), %s, %s and %s", contract.EnvServes, serves, contract.EnvRoutes,
			contract.ServesSyntheticVehicle, contract.ServesSyntheticVehicleProvider, contract.ServesTracker)
	}
}

// BuildTracker wires the tracker from its environment: the three tables
// and the stage's silentAfter and notSeenAfter, whole seconds.
func BuildTracker(getenv func(string) string, logger *slog.Logger) (*tracker.Tracker, error) {
	tables := dynamostore.Tables{Vehicles: getenv(contract.EnvVehiclesTable), Events: getenv(contract.EnvEventsTable), State: getenv(contract.EnvStateTable)}
	var missing []string
	for _, name := range []string{contract.EnvVehiclesTable, contract.EnvEventsTable, contract.EnvStateTable} {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing environment variables %v", missing)
	}
	seconds := func(name string) (time.Duration, error) {
		n, err := strconv.Atoi(getenv(name))
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s must be a positive whole number of seconds, got %q", name, getenv(name))
		}
		return time.Duration(n) * time.Second, nil
	}
	silent, err := seconds(contract.EnvSilentAfter)
	if err != nil {
		return nil, err
	}
	notSeen, err := seconds(contract.EnvNotSeenAfter)
	if err != nil {
		return nil, err
	}
	cfg, err := AWSConfig(getenv)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg, dynamostore.BoundedAttempts, func(o *dynamodb.Options) { o.BaseEndpoint = Endpoint(getenv, "DYNAMODB") })
	store, err := dynamostore.New(db, tables, nil)
	if err != nil {
		return nil, err
	}
	return tracker.New(tracker.Config{Store: store, SilentAfter: silent, NotSeenAfter: notSeen, Logger: logger,
		// Set by Lambda in every function's environment.
		FunctionName: getenv("AWS_LAMBDA_FUNCTION_NAME")})
}

func build(logger *slog.Logger) (*httpapi.Handler, error) {
	env, err := ReadEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := AWSConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg, dynamostore.BoundedAttempts, func(o *dynamodb.Options) { o.BaseEndpoint = Endpoint(os.Getenv, "DYNAMODB") })
	// The cursor key is read when a listing first needs it: no network
	// call at cold start.
	var key dynamostore.CursorKey
	if httpapi.Paginates(env.Routes) {
		if env.CursorSecret == "" {
			return nil, fmt.Errorf("missing environment variable %s", contract.EnvCursorKeySecret)
		}
		sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = Endpoint(os.Getenv, "SECRETS_MANAGER") })
		key = func(ctx context.Context) ([]byte, error) { return cursorKey(ctx, sm, env.CursorSecret) }
	}
	store, err := dynamostore.NewWithCursorKey(db, env.Tables, key)
	if err != nil {
		return nil, err
	}
	return httpapi.New(httpapi.Config{
		Routes: env.Routes, Callers: env.Callers, Vehicles: store, Events: store, States: store,
		EventRetention: env.EventRetention, History: contract.DescribeHistory(os.Getenv(contract.EnvHistory)), HistoryRetention: env.HistoryRetention, Logger: logger,
		// Set by Lambda in every function's environment.
		FunctionName: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
	})
}

// The variables Lambda defines in every function's environment ("Defined
// runtime environment variables", Lambda developer guide): the Region and
// the execution role's credentials.
const (
	EnvRegion          = "AWS_REGION"
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
)

// AWSConfig is the SDK configuration of a function, read from the variables
// Lambda sets: the Region and the execution role's credentials. The SDK's
// default chain (config.LoadDefaultConfig) finds the same there, after
// looking for shared files, SSO, web identity and the instance metadata
// service, none of which a function has: reading them directly keeps all
// of that out of the binary and of the cold start.
func AWSConfig(getenv func(string) string) (aws.Config, error) {
	var missing []string
	for _, name := range []string{EnvRegion, EnvAccessKeyID, EnvSecretAccessKey} {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return aws.Config{}, fmt.Errorf("missing environment variables %v: Lambda sets them in every function", missing)
	}
	return aws.Config{
		Region: getenv(EnvRegion),
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			getenv(EnvAccessKeyID), getenv(EnvSecretAccessKey), getenv(EnvSessionToken))),
	}, nil
}

// Endpoint returns the endpoint the SDK's service-specific variable
// (AWS_ENDPOINT_URL_<SERVICE>) or the global one (AWS_ENDPOINT_URL) names,
// nil for the service's own: local runs point a function at dynalite so.
func Endpoint(getenv func(string) string, service string) *string {
	for _, name := range []string{"AWS_ENDPOINT_URL_" + service, "AWS_ENDPOINT_URL"} {
		if v := getenv(name); v != "" {
			return aws.String(v)
		}
	}
	return nil
}

type secretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

func cursorKey(ctx context.Context, sm secretGetter, secretID string) ([]byte, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		return nil, fmt.Errorf("read cursor key secret: %w", err)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		return nil, errors.New("cursor key secret has no string value")
	}
	return []byte(*out.SecretString), nil
}
