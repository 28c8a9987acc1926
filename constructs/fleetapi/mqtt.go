package fleetapi

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiot"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/construct/access"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// How long a failed MQTT upload stays in the failure queue (SQS's
// longest), how long Lambda keeps retrying an upload's asynchronous
// invocation, and how often.
const (
	uploadFailureRetentionDays = 14
	// The oldest failed upload's age that alarms: half the retention.
	uploadFailureAgeAlarmSeconds = uploadFailureRetentionDays * 86_400 / 2
	uploadMaxEventAgeHours       = 6
	uploadRetryAttempts          = 2
)

// uploadPath is the path of uploads over MQTT (MqttUploads).
type uploadPath struct {
	// function is the upload's function, which the rule invokes.
	function awslambda.Function
	rule     awsiot.CfnTopicRule
	ruleName string
	// failures is the queue of the uploads that could not be stored.
	failures awssqs.Queue
	// certificateStatements are the vehicles' certificate policy's
	// statements for it: connect as itself, publish to its own topic.
	certificateStatements []access.Statement
}

// newUploadPath defines the path of uploads over MQTT: the upload rule on
// the vehicles' Basic Ingest topics, invoking fn, the upload's function
// (asynchronously: Lambda retries it, then hands the event to the failure
// queue with the function's error), the rule's error action into the same
// queue, and the statements of the vehicles' certificate policy that let a
// thing connect as itself and publish to its own topic only.
func newUploadPath(scope constructs.Construct, p FleetApiProps, fn awslambda.Function, alias awslambda.Alias) *uploadPath {
	stack := awscdk.Stack_Of(scope)
	failures := awssqs.NewQueue(scope, jsii.String("UploadFailures"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(uploadFailureRetentionDays)),
		RemovalPolicy:   p.RemovalPolicy,
	})
	// The L1 resource rather than ConfigureAsyncInvoke: its SQS destination
	// grants sqs:GetQueueAttributes and sqs:GetQueueUrl too, and Lambda
	// needs sqs:SendMessage alone ("Adding a destination", Lambda
	// Developer Guide).
	invokeConfig := awslambda.NewCfnEventInvokeConfig(scope, jsii.String("IngestAsyncInvokeConfig"), &awslambda.CfnEventInvokeConfigProps{
		FunctionName:             fn.FunctionName(),
		Qualifier:                alias.AliasName(),
		MaximumRetryAttempts:     jsii.Number(uploadRetryAttempts),
		MaximumEventAgeInSeconds: jsii.Number(uploadMaxEventAgeHours * 3600),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: failures.QueueArn()},
		},
	})
	sendFailures := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sqs:SendMessage"), Resources: jsii.Strings(*failures.QueueArn()),
	})
	fn.AddToRolePolicy(sendFailures)
	// Lambda checks the destination's permission when the config is made,
	// and the alias the config is of must exist.
	invokeConfig.Node().AddDependency(fn.Role(), alias)

	// The rule's error action: IoT Core sends what it could not hand to
	// the function (with the original payload) to the queue.
	ruleRole := awsiam.NewRole(scope, jsii.String("UploadRuleRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("iot.amazonaws.com"), nil),
		Description: jsii.String("FleetApi upload rule: its error action writes to the upload failure queue"),
	})
	// The SQS action needs sqs:SendMessage alone (AWS IoT Core Developer
	// Guide, "SQS" rule action).
	ruleRole.AddToPolicy(sendFailures)
	ruleName := uploadRuleName(*stack.StackName(), *scope.Node().Id())
	rule := newLambdaTopicRule(scope, "UploadRule", ruleName, "FleetApi uploads over MQTT (Basic Ingest): each message to the ingest function",
		contract.UploadRuleSQL, alias, failures, ruleRole)
	return &uploadPath{function: fn, rule: rule, ruleName: ruleName, failures: failures,
		certificateStatements: access.MqttUpload(iotArn(stack, "client/"), iotArn(stack, "topic/"), ruleName)}
}

// iotArn is the ARN of an IoT resource of the stack's account and Region.
func iotArn(stack awscdk.Stack, resource string) string {
	return "arn:" + *stack.Partition() + ":iot:" + *stack.Region() + ":" + *stack.Account() + ":" + resource
}

var notRuleName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// newLambdaTopicRule defines a topic rule named name whose one action
// invokes alias, and whose error action sends what it could not hand over
// to failures with role. Only this rule of this account may invoke the
// alias for IoT Core (permission "InvokeBy" + id).
func newLambdaTopicRule(scope constructs.Construct, id, name, description, sql string, alias awslambda.Alias, failures awssqs.Queue, role awsiam.IRole) awsiot.CfnTopicRule {
	rule := awsiot.NewCfnTopicRule(scope, jsii.String(id), &awsiot.CfnTopicRuleProps{
		RuleName: jsii.String(name),
		TopicRulePayload: &awsiot.CfnTopicRule_TopicRulePayloadProperty{
			Description:      jsii.String(description),
			Sql:              jsii.String(sql),
			AwsIotSqlVersion: jsii.String("2016-03-23"),
			RuleDisabled:     jsii.Bool(false),
			Actions: &[]any{&awsiot.CfnTopicRule_ActionProperty{
				Lambda: &awsiot.CfnTopicRule_LambdaActionProperty{FunctionArn: alias.FunctionArn()},
			}},
			ErrorAction: &awsiot.CfnTopicRule_ActionProperty{
				Sqs: &awsiot.CfnTopicRule_SqsActionProperty{QueueUrl: failures.QueueUrl(), RoleArn: role.RoleArn()},
			},
		},
	})
	rule.Node().AddDependency(role)
	alias.AddPermission(jsii.String("InvokeBy"+id), &awslambda.Permission{
		Principal:     awsiam.NewServicePrincipal(jsii.String("iot.amazonaws.com"), nil),
		SourceArn:     rule.AttrArn(),
		SourceAccount: awscdk.Stack_Of(scope).Account(),
	})
	return rule
}

// uploadRuleName names the upload rule after the stack and the construct:
// IoT rule names hold letters, digits and '_' only, are unique in an
// account and Region, and are part of the vehicles' topic, so it is fixed
// (a stack output says it).
func uploadRuleName(stack, id string) string {
	return notRuleName.ReplaceAllString(stack+"_"+id+"_Uploads", "_")
}

// UploadTopic is the topic vehicle VID publishes its uploads to, with the
// rule's name, "" without MqttUploads.
func (f *FleetApi) UploadTopic() string {
	if f.upload == nil {
		return ""
	}
	return contract.BasicIngestTopic(f.upload.ruleName, "${VID}")
}

// UploadFailures is the queue of uploads over MQTT that could not be
// stored (the failure destination of the ingest function's asynchronous
// invocations and the rule's error action), nil without MqttUploads.
func (f *FleetApi) UploadFailures() awssqs.IQueue {
	if f.upload == nil {
		return nil
	}
	return f.upload.failures
}
