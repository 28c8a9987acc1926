package fleetapi_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/testutil/cdktest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Every test here synthesizes or builds the functions' binary.
	if testing.Short() {
		fmt.Println("constructs/fleetapi: synthesis skipped under -short")
		os.Exit(0)
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// build composes a FleetApi in a fresh stack, as another team's app would,
// lets compose add the consumer's own resources, and returns the template;
// a panic is returned as error.
func build(props *fleetapi.FleetApiProps, compose func(stack awscdk.Stack, api *fleetapi.FleetApi)) (tmpl assertions.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Consumer"), nil)
	api := fleetapi.NewFleetApi(stack, "Fleet", props)
	if compose != nil {
		compose(stack, api)
	}
	return assertions.Template_FromStack(stack, nil), nil
}

func mustBuild(t *testing.T, props *fleetapi.FleetApiProps, compose func(awscdk.Stack, *fleetapi.FleetApi)) assertions.Template {
	t.Helper()
	tmpl, err := build(props, compose)
	if err != nil {
		t.Fatalf("NewFleetApi: %v", err)
	}
	return tmpl
}

func TestDefaultsKeepData(t *testing.T) {
	tmpl := mustBuild(t, nil, nil)
	cdktest.Check(t, "three tables", func() { tmpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(3)) })
	cdktest.Check(t, "retain + protection + PITR + encryption + on-demand", func() {
		tmpl.AllResources(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
			"DeletionPolicy":      "Retain",
			"UpdateReplacePolicy": "Retain",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"DeletionProtectionEnabled":        true,
				"BillingMode":                      "PAY_PER_REQUEST",
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"SSESpecification":                 map[string]any{"SSEEnabled": true},
			}),
		})
	})
}

func TestDestroyDefaultsToUnprotected(t *testing.T) {
	tmpl := mustBuild(t, &fleetapi.FleetApiProps{RemovalPolicy: awscdk.RemovalPolicy_DESTROY, PointInTimeRecovery: jsii.Bool(false)}, nil)
	cdktest.Check(t, "destroy, unprotected, no PITR", func() {
		tmpl.AllResources(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
			"DeletionPolicy": "Delete",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"DeletionProtectionEnabled":        false,
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": false},
			}),
		})
	})
}

func TestKeySchemaAndTTL(t *testing.T) {
	tmpl := mustBuild(t, nil, nil)
	cdktest.Check(t, "vehicles table", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
			"KeySchema":               []any{map[string]any{"AttributeName": fleetapi.VehicleIDAttribute, "KeyType": "HASH"}},
			"TimeToLiveSpecification": assertions.Match_Absent(),
		})
	})
	cdktest.Check(t, "events table", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
			"KeySchema": []any{
				map[string]any{"AttributeName": fleetapi.VehicleIDAttribute, "KeyType": "HASH"},
				map[string]any{"AttributeName": fleetapi.EventIDAttribute, "KeyType": "RANGE"},
			},
			"TimeToLiveSpecification": map[string]any{"AttributeName": fleetapi.EventExpiryAttribute, "Enabled": true},
		})
	})
}

func TestTablesAreExposedForGrants(t *testing.T) {
	// A consumer grants its own role read access through the exposed ITable.
	tmpl := mustBuild(t, nil, func(stack awscdk.Stack, api *fleetapi.FleetApi) {
		role := awsiam.NewRole(stack, jsii.String("ConsumerRole"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		})
		api.EventsTable().GrantReadData(role)
	})
	cdktest.Check(t, "consumer policy", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), &map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{
					"Action":   assertions.Match_ArrayWith(&[]any{"dynamodb:Query", "dynamodb:GetItem"}),
					"Resource": assertions.Match_ArrayWith(&[]any{map[string]any{"Fn::GetAtt": []any{"FleetVehicleEvents3AE12A76", "Arn"}}}),
				}),
			})},
		})
	})
}

func TestFunctionsFollowTheProps(t *testing.T) {
	tmpl := mustBuild(t, &fleetapi.FleetApiProps{
		MemorySize:                   jsii.Number(512),
		Timeout:                      awscdk.Duration_Seconds(jsii.Number(20)),
		ReservedConcurrentExecutions: jsii.Number(5),
		EventRetention:               awscdk.Duration_Days(jsii.Number(30)),
		LogRetention:                 awslogs.RetentionDays_TWO_WEEKS,
	}, func(stack awscdk.Stack, api *fleetapi.FleetApi) {
		for name, fn := range map[string]awslambda.IFunction{"VehiclesFunction": api.VehiclesFunction(), "EventsFunction": api.EventsFunction(), "IngestFunction": api.IngestFunction()} {
			if fn == nil || *fn.Node().Id() != name {
				t.Errorf("%s() = %v", name, fn)
			}
		}
		if api.FunctionOf("listEvents") != api.EventsFunction() || api.FunctionOf("updateVehicle") != api.VehiclesFunction() {
			t.Error("FunctionOf does not give the function of the spec")
		}
	})
	cdktest.Check(t, "three functions and the tracker", func() { tmpl.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(4)) })
	cdktest.Check(t, "function settings", func() {
		tmpl.ResourcePropertiesCountIs(jsii.String("AWS::Lambda::Function"), assertions.Match_ObjectLike(&map[string]any{
			"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap",
			"MemorySize": 512, "Timeout": 20, "ReservedConcurrentExecutions": 5,
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"EVENT_RETENTION_DAYS": "30"})},
		}), jsii.Number(3))
	})
	// The upload's function traces what API Gateway sampled, without
	// platform lines; the others trace actively.
	cdktest.Check(t, "tracing", func() {
		tmpl.ResourcePropertiesCountIs(jsii.String("AWS::Lambda::Function"), assertions.Match_ObjectLike(&map[string]any{
			"TracingConfig": map[string]any{"Mode": "Active"}, "LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"SystemLogLevel": "INFO"}),
		}), jsii.Number(2))
		tmpl.ResourcePropertiesCountIs(jsii.String("AWS::Lambda::Function"), assertions.Match_ObjectLike(&map[string]any{
			"TracingConfig": map[string]any{"Mode": "PassThrough"}, "LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"SystemLogLevel": "WARN"}),
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"FLEETAPI_ROUTES": assertions.Match_StringLikeRegexp(jsii.String("^createEvent "))})},
		}), jsii.Number(1))
	})
	// The tracker serves no request: the memory of the props, its own
	// timeout (a batch of the stream), no reservation.
	cdktest.Check(t, "tracker settings", func() {
		tmpl.ResourcePropertiesCountIs(jsii.String("AWS::Lambda::Function"), assertions.Match_ObjectLike(&map[string]any{
			"MemorySize": 512, "Timeout": 60, "ReservedConcurrentExecutions": assertions.Match_Absent(),
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"FLEETAPI_SERVES": "tracker"})},
		}), jsii.Number(1))
	})
	cdktest.Check(t, "log groups", func() {
		tmpl.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), &map[string]any{"RetentionInDays": 14})
	})
}

func TestCloudWatchRole(t *testing.T) {
	for _, create := range []bool{true, false} {
		tmpl, err := build(&fleetapi.FleetApiProps{CloudWatchRole: jsii.Bool(create)}, nil)
		if err != nil {
			t.Fatalf("CloudWatchRole %v: %v", create, err)
		}
		want := 0
		if create {
			want = 1
		}
		cdktest.Check(t, fmt.Sprintf("CloudWatchRole %v", create), func() {
			tmpl.ResourceCountIs(jsii.String("AWS::ApiGateway::Account"), jsii.Number(want))
		})
	}
}

// By default the construct creates no account-wide role, and says at
// synthesis what a stage without one needs.
func TestNoCloudWatchRoleByDefaultWarns(t *testing.T) {
	var stack awscdk.Stack
	tmpl := mustBuild(t, nil, func(s awscdk.Stack, _ *fleetapi.FleetApi) { stack = s })
	cdktest.Check(t, "default", func() {
		tmpl.ResourceCountIs(jsii.String("AWS::ApiGateway::Account"), jsii.Number(0))
		assertions.Annotations_FromStack(stack).HasWarning(jsii.String("*"),
			assertions.Match_StringLikeRegexp(jsii.String("CloudWatch Logs role ARN must be set in account settings.*"+fleetapi.WarningNoCloudWatchRole)))
	})
	var withRole awscdk.Stack
	mustBuild(t, &fleetapi.FleetApiProps{CloudWatchRole: jsii.Bool(true)}, func(s awscdk.Stack, _ *fleetapi.FleetApi) { withRole = s })
	cdktest.Check(t, "with the role", func() {
		assertions.Annotations_FromStack(withRole).HasNoWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*CloudWatch Logs role.*")))
	})
}

func TestInvalidPropsPanicWithTheBadValue(t *testing.T) {
	tests := []struct {
		desc  string
		props *fleetapi.FleetApiProps
		want  []string
	}{
		{"snapshot policy", &fleetapi.FleetApiProps{RemovalPolicy: awscdk.RemovalPolicy_SNAPSHOT}, []string{"removalPolicy SNAPSHOT is invalid: allowed values are", "DESTROY", "RETAIN"}},
		{"unknown policy", &fleetapi.FleetApiProps{RemovalPolicy: "KEEP"}, []string{"removalPolicy KEEP is invalid"}},
		{"unknown table class", &fleetapi.FleetApiProps{EventsTableClass: "GLACIER"}, []string{"eventsTableClass GLACIER is invalid: allowed values are [STANDARD STANDARD_INFREQUENT_ACCESS]"}},
		{"unknown deployment", &fleetapi.FleetApiProps{Deployment: "Canary10Percent7Minutes"}, []string{"deployment Canary10Percent7Minutes is invalid: allowed values are [AllAtOnce Canary10Percent5Minutes Canary10Percent10Minutes Canary10Percent15Minutes Canary10Percent30Minutes Linear10PercentEvery1Minute Linear10PercentEvery2Minutes Linear10PercentEvery3Minutes Linear10PercentEvery10Minutes]"}},
		{"synthetic vehicle without its paths", &fleetapi.FleetApiProps{SyntheticVehicle: jsii.Bool(true), VehicleCredentials: jsii.Bool(true)}, []string{"syntheticVehicle true is invalid: needs vehicleCredentials and mqttUploads"}},
		{"destroy with protection", &fleetapi.FleetApiProps{RemovalPolicy: awscdk.RemovalPolicy_DESTROY, DeletionProtection: jsii.Bool(true)}, []string{"deletionProtection true is invalid: must be false with removalPolicy DESTROY"}},
		{"memory too low", &fleetapi.FleetApiProps{MemorySize: jsii.Number(64)}, []string{"memorySize 64 is invalid: allowed are whole MiB from 128 to 10240"}},
		{"memory fraction", &fleetapi.FleetApiProps{MemorySize: jsii.Number(256.5)}, []string{"memorySize 256.5 is invalid"}},
		{"timeout too long", &fleetapi.FleetApiProps{Timeout: awscdk.Duration_Minutes(jsii.Number(16))}, []string{"timeout 960 is invalid: allowed are whole seconds from 1 to 29"}},
		{"timeout too short", &fleetapi.FleetApiProps{Timeout: awscdk.Duration_Millis(jsii.Number(500))}, []string{"timeout 0.5 is invalid"}},
		{"no concurrency", &fleetapi.FleetApiProps{ReservedConcurrentExecutions: jsii.Number(0)}, []string{"reservedConcurrentExecutions 0 is invalid: allowed are whole numbers from 1 to 1000 (0 would stop the functions"}},
		{"negative concurrency", &fleetapi.FleetApiProps{ReservedConcurrentExecutions: jsii.Number(-1)}, []string{"reservedConcurrentExecutions -1 is invalid"}},
		{"retention in hours", &fleetapi.FleetApiProps{EventRetention: awscdk.Duration_Hours(jsii.Number(36))}, []string{"eventRetention 1.5 is invalid: allowed are whole days from 1 to 3650"}},
		{"bad stage name", &fleetapi.FleetApiProps{ApiStageName: jsii.String("my stage")}, []string{`apiStageName "my stage" is invalid: allowed are 1 to 128 letters`}},
		{"zero rate", &fleetapi.FleetApiProps{ThrottlingRateLimit: jsii.Number(0)}, []string{"throttlingRateLimit 0 is invalid: allowed range is (0, 10000]"}},
		{"rate above the account's", &fleetapi.FleetApiProps{ThrottlingRateLimit: jsii.Number(10001)}, []string{"throttlingRateLimit 10001 is invalid"}},
		{"no burst", &fleetapi.FleetApiProps{ThrottlingBurstLimit: jsii.Number(0)}, []string{"throttlingBurstLimit 0 is invalid: allowed are whole numbers from 1 to 5000 (0 would refuse every request)"}},
		{"fractional burst", &fleetapi.FleetApiProps{ThrottlingBurstLimit: jsii.Number(1.5)}, []string{"throttlingBurstLimit 1.5 is invalid"}},
		{"retention too long", &fleetapi.FleetApiProps{EventRetention: awscdk.Duration_Days(jsii.Number(4000))}, []string{"eventRetention 4000 is invalid"}},
		{"no read units", &fleetapi.FleetApiProps{MaxReadRequestUnits: jsii.Number(0)}, []string{"maxReadRequestUnits 0 is invalid: allowed are whole request units per second from 1 to 40000"}},
		{"fractional write units", &fleetapi.FleetApiProps{MaxWriteRequestUnits: jsii.Number(2.5)}, []string{"maxWriteRequestUnits 2.5 is invalid"}},
		{"alarm e-mail", &fleetapi.FleetApiProps{AlarmEmails: jsii.Strings("oncall")}, []string{`alarmEmails "oncall" is invalid: allowed are plain e-mail addresses`}},
		{"alarm e-mail twice", &fleetapi.FleetApiProps{AlarmEmails: jsii.Strings("a@example.com", "A@example.com")}, []string{`alarmEmails "A@example.com" is invalid`, "each once"}},
		{"budget without tags", &fleetapi.FleetApiProps{MonthlyBudgetUsd: jsii.Number(100)}, []string{"budgetCostTags (none) is invalid: monthlyBudgetUsd needs the cost allocation tags"}},
		{"no budget", &fleetapi.FleetApiProps{MonthlyBudgetUsd: jsii.Number(0), BudgetCostTags: &map[string]*string{"Stage": jsii.String("x")}}, []string{"monthlyBudgetUsd 0 is invalid: must be above 0"}},
		{"alarm period", &fleetapi.FleetApiProps{AlarmThresholds: &fleetapi.AlarmThresholds{Period: awscdk.Duration_Seconds(jsii.Number(90))}}, []string{"alarmThresholds.period 1.5 is invalid: allowed are whole minutes, at least 1"}},
		{"alarm datapoints", &fleetapi.FleetApiProps{AlarmThresholds: &fleetapi.AlarmThresholds{EvaluationPeriods: jsii.Number(2), DatapointsToAlarm: jsii.Number(3)}}, []string{"alarmThresholds.datapointsToAlarm 3 is invalid: allowed are whole numbers from 1 to evaluationPeriods (2)"}},
		{"alarm window", &fleetapi.FleetApiProps{AlarmThresholds: &fleetapi.AlarmThresholds{Period: awscdk.Duration_Hours(jsii.Number(6)), EvaluationPeriods: jsii.Number(5)}}, []string{"period × evaluationPeriods must be at most one day (1440 minutes), got 1800 minutes"}},
		{"alarm count", &fleetapi.FleetApiProps{AlarmThresholds: &fleetapi.AlarmThresholds{FunctionErrors: jsii.Number(0)}}, []string{"alarmThresholds.functionErrors 0 is invalid: allowed are whole numbers of at least 1 per period"}},
		{"alarm percent", &fleetapi.FleetApiProps{AlarmThresholds: &fleetapi.AlarmThresholds{FunctionDurationP99Percent: jsii.Number(150)}}, []string{"alarmThresholds.functionDurationP99Percent 150 is invalid: allowed range is (0, 100] percent"}},
		{"alarm latency", &fleetapi.FleetApiProps{AlarmThresholds: &fleetapi.AlarmThresholds{ApiLatencyP99Ms: jsii.Number(30000)}}, []string{"alarmThresholds.apiLatencyP99Ms 30000 is invalid: allowed range is 1 to 29000"}},
		{"no refusal alarm", &fleetapi.FleetApiProps{AlarmThresholds: &fleetapi.AlarmThresholds{AccessRefused: jsii.Number(0)}}, []string{"alarmThresholds.accessRefused 0 is invalid: allowed are whole numbers of at least 1 per period"}},
		{"credentials too short", &fleetapi.FleetApiProps{VehicleCredentials: jsii.Bool(true), VehicleCredentialDuration: awscdk.Duration_Minutes(jsii.Number(10))}, []string{"vehicleCredentialDuration 600 is invalid: allowed are whole seconds from 900 (15 minutes) to 43200 (12 hours)"}},
		{"credentials too long", &fleetapi.FleetApiProps{VehicleCredentialDuration: awscdk.Duration_Hours(jsii.Number(13))}, []string{"vehicleCredentialDuration 46800 is invalid"}},
		{"credentials in part seconds", &fleetapi.FleetApiProps{VehicleCredentialDuration: awscdk.Duration_Millis(jsii.Number(1_000_500))}, []string{"vehicleCredentialDuration 1000.5 is invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := build(tt.props, nil)
			if err == nil {
				t.Fatalf("NewFleetApi(%+v) succeeded, want a panic", *tt.props)
			}
			for _, w := range append(tt.want, `fleetapi "Fleet"`) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("panic %q does not contain %q", err, w)
				}
			}
		})
	}
}
