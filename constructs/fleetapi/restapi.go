package fleetapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsxray"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/shared/accesslog"
)

// WarningNoCloudWatchRole is the ID of the synthesis warning of a FleetApi
// that does not create the API Gateway CloudWatch role, for
// awscdk.Annotations_Of(scope).AcknowledgeWarning once the account has it.
const WarningNoCloudWatchRole = "fleetapi:apiGatewayCloudWatchRole"

// maxIntegrationTimeoutMs is API Gateway's default (and, without a quota
// increase, greatest) integration timeout of a REST API.
const maxIntegrationTimeoutMs = 29_000

var (
	// API Gateway stage names: letters, digits, '-' and '_', at most 128.
	stageNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	// A path parameter, which execute-api ARNs write as '*'.
	pathParam = regexp.MustCompile(`\{[^}]+\}`)
)

// executeApiPath writes a path template as execute-api ARNs do: a path
// parameter matches any segment, '*'.
func executeApiPath(path string) string { return pathParam.ReplaceAllString(path, "*") }

// specBody returns the spec as the JSON object API Gateway imports: each
// integration uri "fleetapi:function:NAME" replaced by the invocation ARN
// of that function; the servers and examples (documentation only) and the
// spec's own extensions (api.ExtCallers, api.ExtDynamoDB) removed,
// and each response given inline, as API Gateway's import notes ask
// ("Amazon API Gateway important notes for REST APIs": the example tag is
// not supported; a response defined by a $ref to the document's responses
// is not supported, replace the reference by the inline definition).
func specBody(spec *api.Spec, functions map[string]awslambda.Alias) (map[string]any, error) {
	raw, err := spec.Doc.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode the API spec: %w", err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("decode the API spec: %w", err)
	}
	delete(body, "servers")
	if err := inlineResponses(body); err != nil {
		return nil, err
	}
	dropExamples(body)
	paths, _ := body["paths"].(map[string]any)
	for _, op := range spec.Operations {
		fn, ok := functions[op.Function]
		if !ok {
			return nil, fmt.Errorf("operation %s names function %q, which is not defined", op.ID, op.Function)
		}
		operation := paths[op.Path].(map[string]any)[strings.ToLower(op.Method)].(map[string]any)
		// The spec's own extensions are for the construct and the functions.
		delete(operation, api.ExtCallers)
		delete(operation, api.ExtDynamoDB)
		delete(operation, api.ExtUpload)
		delete(operation, api.ExtObjective)
		integration := operation[api.ExtIntegration].(map[string]any)
		integration["uri"] = fmt.Sprintf("arn:%s:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations",
			*awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *fn.FunctionArn())
	}
	return body, nil
}

// newRestApi defines the REST API from the spec, its stage with throttling,
// logs and tracing, and the permissions for it to invoke each function for
// exactly the operations the function serves.
func newRestApi(scope constructs.Construct, p FleetApiProps, spec *api.Spec, fns functions) awsapigateway.SpecRestApi {
	body, err := specBody(spec, fns.aliases)
	if err != nil {
		panic(fmt.Errorf("fleetapi: %w", err))
	}
	accessLogs := awslogs.NewLogGroup(scope, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	var roleRemoval awscdk.RemovalPolicy // CDK refuses a policy for a role it does not create
	if *p.CloudWatchRole {
		roleRemoval = awscdk.RemovalPolicy_RETAIN
	}
	restApi := awsapigateway.NewSpecRestApi(scope, jsii.String("Api"), &awsapigateway.SpecRestApiProps{
		ApiDefinition: awsapigateway.ApiDefinition_FromInline(body),
		RestApiName:   awscdk.Stack_Of(scope).StackName(),
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
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(accesslog.Format())),
			LoggingLevel:         awsapigateway.MethodLoggingLevel_ERROR,
			// Data traces would log request and response bodies.
			DataTraceEnabled: jsii.Bool(false),
			TracingEnabled:   jsii.Bool(true),
			MetricsEnabled:   jsii.Bool(true),
		},
	})
	// The stack that uses the construct names its own outputs.
	restApi.Node().TryRemoveChild(jsii.String("Endpoint"))
	// The stage's traces: a share of its requests, no reservoir (X-Ray's
	// default rule would trace the first request of every second, most of
	// a small fleet's reads). API Gateway Developer Guide, "Configure AWS
	// X-Ray sampling rules for API Gateway APIs": the service name is
	// {api-name}/{stage-name}, the type AWS::ApiGateway::Stage.
	awsxray.NewCfnSamplingRule(scope, jsii.String("ApiTraceSampling"), &awsxray.CfnSamplingRuleProps{
		SamplingRule: &awsxray.CfnSamplingRule_SamplingRuleProperty{
			RuleName:      jsii.String(traceRuleName(*awscdk.Stack_Of(scope).StackName(), *scope.Node().Id())),
			Priority:      jsii.Number(1000),
			FixedRate:     jsii.Number(*p.TraceSamplePercent / 100),
			ReservoirSize: jsii.Number(0),
			ServiceName:   jsii.String(*awscdk.Stack_Of(scope).StackName() + "/" + *p.ApiStageName),
			ServiceType:   jsii.String("AWS::ApiGateway::Stage"),
			Host:          jsii.String("*"),
			HttpMethod:    jsii.String("*"),
			UrlPath:       jsii.String("*"),
			ResourceArn:   jsii.String("*"),
			Version:       jsii.Number(1),
		},
	})
	// A new deployment whenever the imported body changes: the spec, or the
	// ARN of a function it points to.
	restApi.LatestDeployment().AddToLogicalId(body)

	// API Gateway would create the execution log group itself, without a
	// retention; create it first, with one.
	execLogs := awslogs.NewLogGroup(scope, jsii.String("ApiExecutionLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(fmt.Sprintf("API-Gateway-Execution-Logs_%s/%s", *restApi.RestApiId(), *p.ApiStageName)),
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	restApi.DeploymentStage().Node().AddDependency(execLogs)
	if !*p.CloudWatchRole {
		awscdk.Annotations_Of(restApi.DeploymentStage()).AddWarningV2(jsii.String(WarningNoCloudWatchRole), jsii.String(
			"the stage logs errors to CloudWatch, which needs the API Gateway CloudWatch role of the account and Region; "+
				"this construct does not create it (CloudWatchRole is false), so the deployment fails with "+
				"\"CloudWatch Logs role ARN must be set in account settings to enable logging\" unless another stack "+
				"created it first. Set CloudWatchRole in one stack per account and Region, then acknowledge this warning"), nil)
	}

	// The permissions name the stage by the props, not by a Ref of it, so
	// that the deployment can wait for them: a deploy that points the
	// integrations somewhere new has the permissions in place before the
	// stage serves the new deployment.
	principal := awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil)
	for _, op := range spec.Operations {
		path := executeApiPath(op.Path)
		alias, id := fns.aliases[op.Function], "Invoke"+exportedName(op.ID)
		alias.AddPermission(jsii.String(id), &awslambda.Permission{
			Principal: principal,
			Action:    jsii.String("lambda:InvokeFunction"),
			SourceArn: restApi.ArnForExecuteApi(jsii.String(op.Method), jsii.String(path), p.ApiStageName),
		})
		restApi.LatestDeployment().Node().AddDependency(alias.Node().FindChild(jsii.String(id)))
	}
	return restApi
}

// inlineResponses replaces each operation's response {"$ref":
// "#/components/responses/NAME"} by a copy of that response, and drops the
// components' responses.
func inlineResponses(body map[string]any) error {
	components, _ := body["components"].(map[string]any)
	shared, _ := components["responses"].(map[string]any)
	paths, _ := body["paths"].(map[string]any)
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			o, ok := op.(map[string]any)
			if !ok { // the path's parameters
				continue
			}
			responses, _ := o["responses"].(map[string]any)
			for code, r := range responses {
				ref, _ := r.(map[string]any)["$ref"].(string)
				if ref == "" {
					continue
				}
				name, ok := strings.CutPrefix(ref, "#/components/responses/")
				if !ok || shared[name] == nil {
					return fmt.Errorf("%s %s: response %s refers to %q, not a response of the document", method, path, code, ref)
				}
				responses[code] = deepCopy(shared[name])
			}
		}
	}
	delete(components, "responses")
	return nil
}

// dropExamples removes every example and examples member, except where it
// names a property of a schema.
func dropExamples(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if k == "properties" {
				for _, prop := range child.(map[string]any) {
					dropExamples(prop)
				}
				continue
			}
			if k == "example" || k == "examples" {
				delete(v, k)
				continue
			}
			dropExamples(child)
		}
	case []any:
		for _, child := range v {
			dropExamples(child)
		}
	}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, child := range v {
			out[k] = deepCopy(child)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, child := range v {
			out[i] = deepCopy(child)
		}
		return out
	default:
		return v
	}
}

// traceRuleName names the stage's X-Ray sampling rule after its stack and
// construct, within X-Ray's 32 characters (a hash of the whole when
// longer): the account's rule names must differ between stages.
func traceRuleName(stack, id string) string {
	name := notRuleName.ReplaceAllString(stack+"-"+id, "-") + "-Api"
	if len(name) <= 32 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:23] + "-" + hex.EncodeToString(sum[:4])
}
