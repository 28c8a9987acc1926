package fleetapi

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiot"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// The synthetic vehicle's schedule, and the bounds of one run: the
// function's timeout well within the minute, so that runs never overlap
// (two connections with one client ID would drop each other).
const (
	syntheticEveryMinutes    = 1
	syntheticTimeoutSeconds  = 50
	syntheticProviderTimeout = 180 // a delete waits up to 60 s for IoT Core's detach
)

// syntheticVehicle is the stage's synthetic vehicle: the function that runs
// it on a schedule, and the custom resource that provisions it.
type syntheticVehicle struct {
	vid      string
	function awslambda.Function
	provider awslambda.Function
	secret   awssecretsmanager.CfnSecret
	resource awscdk.CustomResource
	schedule awsevents.Rule
}

var notInVID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// syntheticVID is the synthetic vehicle's vid and thing name: unique in
// the account and Region (a thing name is), at most 64 characters (a vid
// and an STS session name are).
func syntheticVID(scope constructs.Construct) string {
	name := notInVID.ReplaceAllString(namePrefix(scope), "-")
	if max := 64 - len(contract.SyntheticVIDPrefix); len(name) > max {
		sum := sha256.Sum256([]byte(name))
		name = name[:max-9] + "-" + hex.EncodeToString(sum[:4])
	}
	return contract.SyntheticVIDPrefix + name
}

// newSyntheticVehicle defines the synthetic vehicle: an empty secret, the
// custom resource that makes its key and certificate inside AWS into it
// (CreateCertificateFromCsr) and registers it, and the function that runs
// it every minute as a vehicle and as a fleet reader.
func newSyntheticVehicle(scope constructs.Construct, p FleetApiProps, fns functions, t tables, restApi awsapigateway.SpecRestApi, vehicleRole awsiam.IRole,
	credentials *vehicleCredentials, certificatePolicy awsiot.CfnPolicy, upload *uploadPath) *syntheticVehicle {
	stack := awscdk.Stack_Of(scope)
	vid := syntheticVID(scope)
	// Empty until the custom resource puts the key and certificate in it:
	// neither is ever in the template (no SecretString, no generated one
	// an update could regenerate).
	secret := awssecretsmanager.NewCfnSecret(scope, jsii.String("SyntheticVehicleSecret"), &awssecretsmanager.CfnSecretProps{
		Description: jsii.String("The FleetApi synthetic vehicle's certificate and private key, made by its custom resource"),
	})
	secret.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)

	provider := newServiceFunction(scope, p, fns, "SyntheticVehicleProvider", "FleetApi synthetic vehicle: provisions its certificate (custom resource)",
		syntheticProviderTimeout, awslambda.Tracing_ACTIVE, "", map[string]*string{
			contract.EnvServes:        jsii.String(contract.ServesSyntheticVehicleProvider),
			contract.EnvVehiclesTable: t.vehicles.TableName(),
			contract.EnvEventsTable:   t.events.TableName(),
		})
	arn := func(resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iot"), Resource: jsii.String(resource), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})
	}
	thing, certs := arn("thing/"+vid), arn("cert/*")
	for _, s := range []struct {
		actions   []string
		resources []string
	}{
		// No resource type: "*" (Service Authorization Reference, AWS IoT).
		{[]string{"iot:CreateCertificateFromCsr", "iot:DescribeEndpoint", "iot:AttachThingPrincipal", "iot:DetachThingPrincipal"}, []string{"*"}},
		{[]string{"iot:CreateThing", "iot:DeleteThing", "iot:ListThingPrincipals"}, []string{thing}},
		// The certificate's ID is known once it is made.
		{[]string{"iot:DescribeCertificate", "iot:UpdateCertificate", "iot:DeleteCertificate", "iot:AttachPolicy", "iot:DetachPolicy"}, []string{certs}},
		{[]string{"secretsmanager:PutSecretValue"}, []string{*secret.Ref()}},
		// Its registration: a conditional put, read back when it exists.
		{[]string{"dynamodb:PutItem", "dynamodb:GetItem"}, []string{*t.vehicles.TableArn()}},
	} {
		provider.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(s.actions...), Resources: jsii.Strings(s.resources...)}))
	}
	resource := awscdk.NewCustomResource(scope, jsii.String("SyntheticVehicle"), &awscdk.CustomResourceProps{
		ServiceToken: provider.FunctionArn(),
		ResourceType: jsii.String("Custom::FleetApiSyntheticVehicle"),
		Properties: &map[string]any{
			"Vid": vid, "SecretArn": secret.Ref(), "PolicyName": certificatePolicy.Ref(),
		},
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	// The provider's permissions first: CloudFormation invokes it as soon
	// as the function exists.
	resource.Node().AddDependency(provider.Role())

	fn := newServiceFunction(scope, p, fns, "SyntheticVehicle", "FleetApi synthetic vehicle: runs every minute as a vehicle and a fleet reader",
		syntheticTimeoutSeconds, awslambda.Tracing_ACTIVE, "", map[string]*string{
			contract.EnvServes:              jsii.String(contract.ServesSyntheticVehicle),
			contract.EnvSyntheticVID:        jsii.String(vid),
			contract.EnvSyntheticSecret:     secret.Ref(),
			contract.EnvAPIURL:              restApi.Url(),
			contract.EnvCredentialsEndpoint: resource.GetAttString(jsii.String("CredentialsEndpoint")),
			contract.EnvDataEndpoint:        resource.GetAttString(jsii.String("DataEndpoint")),
			contract.EnvRoleAlias:           credentials.roleAlias.Ref(),
			contract.EnvVehicleRole:         vehicleRole.RoleArn(),
			contract.EnvUploadTopic:         jsii.String(contract.BasicIngestTopic(upload.ruleName, vid)),
		})
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("secretsmanager:GetSecretValue"), Resources: jsii.Strings(*secret.Ref()),
	}))
	// A run that could not start in time is no run: the next minute's is.
	fn.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{RetryAttempts: jsii.Number(0), MaxEventAge: awscdk.Duration_Seconds(jsii.Number(60))})
	schedule := awsevents.NewRule(scope, jsii.String("SyntheticVehicleSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Runs the FleetApi synthetic vehicle"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(syntheticEveryMinutes))),
	})
	schedule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(0), MaxEventAge: awscdk.Duration_Seconds(jsii.Number(60)),
	}))
	return &syntheticVehicle{vid: vid, function: fn, provider: provider, secret: secret, resource: resource, schedule: schedule}
}

// newSyntheticFunction defines a function of the synthetic vehicle: the
// one binary, with a role and a log group of its own.
func newServiceFunction(scope constructs.Construct, p FleetApiProps, fns functions, id, description string, timeoutSeconds float64, tracing awslambda.Tracing,
	systemLogLevel awslambda.SystemLogLevel, env map[string]*string) awslambda.Function {
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{Retention: p.LogRetention, RemovalPolicy: p.RemovalPolicy})
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil), Description: jsii.String(description),
	})
	logs.GrantWrite(role)
	return newFunction(fns.build, scope, id+"Function", &awslambda.FunctionProps{
		Description:      jsii.String(description),
		Runtime:          awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:     awslambda.Architecture_ARM_64(),
		Handler:          jsii.String("bootstrap"),
		Code:             fns.code,
		MemorySize:       p.MemorySize,
		Timeout:          awscdk.Duration_Seconds(jsii.Number(timeoutSeconds)),
		Tracing:          tracing,
		Role:             role,
		LogGroup:         logs,
		LoggingFormat:    awslambda.LoggingFormat_JSON,
		SystemLogLevelV2: systemLogLevel,
		Environment:      &env,
	})
}

// runMetric is the synthetic vehicle's success of whole runs: 1 or 0 per
// run, the Minimum over a period 0 when one failed.
func (s *syntheticVehicle) runMetric(period awscdk.Duration) awscloudwatch.IMetric {
	return s.stepMetric(metrics.SyntheticVehicleSuccess, metrics.StepRun, "Minimum", period)
}

// stepMetric is one of the synthetic vehicle's metrics of a step.
func (s *syntheticVehicle) stepMetric(name, step, stat string, period awscdk.Duration) awscloudwatch.Metric {
	return newMetric(metrics.Namespace, name, map[string]*string{metrics.DimensionSyntheticVehicle: jsii.String(s.vid), metrics.DimensionStep: jsii.String(step)},
		&awscloudwatch.MetricOptions{Statistic: jsii.String(stat), Period: period, Label: jsii.String(step)})
}

// syntheticUnavailable says why a props' synthetic vehicle cannot be.
func syntheticUnavailable(p *FleetApiProps) error {
	if p.SyntheticVehicle != nil && *p.SyntheticVehicle && !(p.VehicleCredentials != nil && *p.VehicleCredentials && p.MqttUploads != nil && *p.MqttUploads) {
		return &PropError{"syntheticVehicle", true, "needs vehicleCredentials and mqttUploads: the synthetic vehicle gets its credentials from its certificate and uploads over HTTPS and MQTT"}
	}
	return nil
}
