package fleetapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
)

var (
	// API Gateway stage names: letters, digits, '-' and '_', at most 128.
	stageNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	// A path parameter, which execute-api ARNs write as '*'.
	pathParam = regexp.MustCompile(`\{[^}]+\}`)
)

// specBody returns the spec as the JSON object API Gateway imports: each
// integration uri "fleetapi:function:NAME" replaced by the invocation ARN
// of that function, and the servers (documentation only) removed.
func specBody(spec *api.Spec, functions map[string]awslambda.IFunction) (map[string]any, error) {
	raw, err := spec.Doc.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode the API spec: %w", err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("decode the API spec: %w", err)
	}
	delete(body, "servers")
	paths, _ := body["paths"].(map[string]any)
	for _, op := range spec.Operations {
		fn, ok := functions[op.Function]
		if !ok {
			return nil, fmt.Errorf("operation %s names function %q, which is not defined", op.ID, op.Function)
		}
		integration := paths[op.Path].(map[string]any)[strings.ToLower(op.Method)].(map[string]any)[api.ExtIntegration].(map[string]any)
		integration["uri"] = fmt.Sprintf("arn:%s:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations",
			*awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *fn.FunctionArn())
	}
	return body, nil
}

// addRestApi defines the REST API from the spec, its stage with throttling,
// logs and tracing, and the permissions for it to invoke each function for
// exactly the operations the function serves.
func (f *FleetApi) addRestApi(p FleetApiProps, spec *api.Spec) {
	body, err := specBody(spec, f.functions)
	if err != nil {
		panic(fmt.Errorf("fleetapi: %w", err))
	}
	accessLogs := awslogs.NewLogGroup(f, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	var roleRemoval awscdk.RemovalPolicy // CDK refuses a policy for a role it does not create
	if *p.CloudWatchRole {
		roleRemoval = awscdk.RemovalPolicy_RETAIN
	}
	restApi := awsapigateway.NewSpecRestApi(f, jsii.String("Api"), &awsapigateway.SpecRestApiProps{
		ApiDefinition: awsapigateway.ApiDefinition_FromInline(body),
		RestApiName:   awscdk.Stack_Of(f).StackName(),
		Description:   jsii.String("FleetApi vehicle-telemetry API, from api/swagger.yaml"),
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// The import reads the endpoint type from this parameter when a body is given.
		Parameters:                  &map[string]*string{"endpointConfigurationTypes": jsii.String("REGIONAL")},
		CloudWatchRole:              p.CloudWatchRole,
		CloudWatchRoleRemovalPolicy: roleRemoval,
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            p.ApiStageName,
			ThrottlingRateLimit:  p.ThrottlingRateLimit,
			ThrottlingBurstLimit: p.ThrottlingBurstLimit,
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
				Caller: jsii.Bool(true), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true), Protocol: jsii.Bool(true),
				RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true), ResponseLength: jsii.Bool(true),
				Status: jsii.Bool(true), User: jsii.Bool(true),
			}),
			LoggingLevel: awsapigateway.MethodLoggingLevel_ERROR,
			// Data traces would log request and response bodies.
			DataTraceEnabled: jsii.Bool(false),
			TracingEnabled:   jsii.Bool(true),
			MetricsEnabled:   jsii.Bool(true),
		},
	})
	// The stack that uses the construct names its own outputs.
	restApi.Node().TryRemoveChild(jsii.String("Endpoint"))
	// A new deployment whenever the imported body changes: the spec, or the
	// ARN of a function it points to.
	restApi.LatestDeployment().AddToLogicalId(body)

	// API Gateway would create the execution log group itself, without a
	// retention; create it first, with one.
	execLogs := awslogs.NewLogGroup(f, jsii.String("ApiExecutionLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(fmt.Sprintf("API-Gateway-Execution-Logs_%s/%s", *restApi.RestApiId(), *p.ApiStageName)),
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	restApi.DeploymentStage().Node().AddDependency(execLogs)

	principal := awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil)
	for _, op := range spec.Operations {
		path := pathParam.ReplaceAllString(op.Path, "*")
		f.functions[op.Function].AddPermission(jsii.String("Invoke"+exportedName(op.ID)), &awslambda.Permission{
			Principal: principal,
			Action:    jsii.String("lambda:InvokeFunction"),
			SourceArn: restApi.ArnForExecuteApi(jsii.String(op.Method), jsii.String(path), restApi.DeploymentStage().StageName()),
		})
	}
	f.restApi = restApi
}
