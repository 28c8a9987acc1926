package fleetapi

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiot"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/construct/access"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// How long a failed MQTT upload stays in the failure queue (SQS's
// longest), how long Lambda keeps retrying an upload's asynchronous
// invocation, and how often.
const (
	uploadFailureRetentionDays = 14
	uploadMaxEventAgeHours     = 6
	uploadRetryAttempts        = 2
)

// addMqttUploads defines the path of uploads over MQTT: the upload rule on
// the vehicles' Basic Ingest topics, invoking the ingest function
// (asynchronously: Lambda retries it, then hands the event to the failure
// queue with the function's error), the rule's error action into the same
// queue, and the statements of the vehicles' certificate policy that let a
// thing connect as itself and publish to its own topic only.
func (f *FleetApi) addMqttUploads(p FleetApiProps) {
	if !*p.MqttUploads {
		return
	}
	fn := f.functions[f.spec.Upload().Function]
	stack := awscdk.Stack_Of(f)
	f.uploadFailures = awssqs.NewQueue(f, jsii.String("UploadFailures"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(uploadFailureRetentionDays)),
		RemovalPolicy:   p.RemovalPolicy,
	})
	// The L1 resource rather than ConfigureAsyncInvoke: its SQS destination
	// grants sqs:GetQueueAttributes and sqs:GetQueueUrl too, and Lambda
	// needs sqs:SendMessage alone ("Adding a destination", Lambda
	// Developer Guide).
	invokeConfig := awslambda.NewCfnEventInvokeConfig(f, jsii.String("IngestAsyncInvokeConfig"), &awslambda.CfnEventInvokeConfigProps{
		FunctionName:             fn.FunctionName(),
		Qualifier:                jsii.String("$LATEST"),
		MaximumRetryAttempts:     jsii.Number(uploadRetryAttempts),
		MaximumEventAgeInSeconds: jsii.Number(uploadMaxEventAgeHours * 3600),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: f.uploadFailures.QueueArn()},
		},
	})
	sendFailures := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sqs:SendMessage"), Resources: jsii.Strings(*f.uploadFailures.QueueArn()),
	})
	fn.AddToRolePolicy(sendFailures)
	// Lambda checks the destination's permission when the config is made.
	invokeConfig.Node().AddDependency(fn.Role())

	// The rule's error action: IoT Core sends what it could not hand to
	// the function (with the original payload) to the queue.
	ruleRole := awsiam.NewRole(f, jsii.String("UploadRuleRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("iot.amazonaws.com"), nil),
		Description: jsii.String("FleetApi upload rule: its error action writes to the upload failure queue"),
	})
	// The SQS action needs sqs:SendMessage alone (AWS IoT Core Developer
	// Guide, "SQS" rule action).
	ruleRole.AddToPolicy(sendFailures)
	f.uploadRuleName = uploadRuleName(*stack.StackName(), *f.Node().Id())
	rule := awsiot.NewCfnTopicRule(f, jsii.String("UploadRule"), &awsiot.CfnTopicRuleProps{
		RuleName: jsii.String(f.uploadRuleName),
		TopicRulePayload: &awsiot.CfnTopicRule_TopicRulePayloadProperty{
			Description:      jsii.String("FleetApi uploads over MQTT (Basic Ingest): each message to the ingest function"),
			Sql:              jsii.String(contract.UploadRuleSQL),
			AwsIotSqlVersion: jsii.String("2016-03-23"),
			RuleDisabled:     jsii.Bool(false),
			Actions: &[]any{&awsiot.CfnTopicRule_ActionProperty{
				Lambda: &awsiot.CfnTopicRule_LambdaActionProperty{FunctionArn: fn.FunctionArn()},
			}},
			ErrorAction: &awsiot.CfnTopicRule_ActionProperty{
				Sqs: &awsiot.CfnTopicRule_SqsActionProperty{QueueUrl: f.uploadFailures.QueueUrl(), RoleArn: ruleRole.RoleArn()},
			},
		},
	})
	rule.Node().AddDependency(ruleRole)
	// Only this rule of this account may invoke the function for IoT Core.
	fn.AddPermission(jsii.String("InvokeByUploadRule"), &awslambda.Permission{
		Principal:     awsiam.NewServicePrincipal(jsii.String("iot.amazonaws.com"), nil),
		SourceArn:     rule.AttrArn(),
		SourceAccount: stack.Account(),
	})
	f.uploadRule = rule
	f.certificateStatements = append(f.certificateStatements,
		access.MqttUpload(f.iotArn("client/"), f.iotArn("topic/"), f.uploadRuleName)...)
}

// iotArn is the ARN of an IoT resource of this account and Region.
func (f *FleetApi) iotArn(resource string) string {
	stack := awscdk.Stack_Of(f)
	return "arn:" + *stack.Partition() + ":iot:" + *stack.Region() + ":" + *stack.Account() + ":" + resource
}

var notRuleName = regexp.MustCompile(`[^A-Za-z0-9_]`)

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
	if f.uploadRule == nil {
		return ""
	}
	return contract.BasicIngestTopic(f.uploadRuleName, "${VID}")
}

// UploadFailures is the queue of uploads over MQTT that could not be
// stored (the failure destination of the ingest function's asynchronous
// invocations and the rule's error action), nil without MqttUploads.
func (f *FleetApi) UploadFailures() awssqs.IQueue {
	if f.uploadFailures == nil {
		return nil
	}
	return f.uploadFailures
}

// uploadRuleMetric is an AWS/IoT metric of the upload rule (Sum), of its
// Lambda action when lambdaAction: what the alarms and the dashboard read.
func (f *FleetApi) uploadRuleMetric(name string, lambdaAction bool, o *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	dims := map[string]*string{"RuleName": jsii.String(f.uploadRuleName)}
	if lambdaAction {
		dims["ActionType"] = jsii.String("Lambda")
	}
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("AWS/IoT"), MetricName: jsii.String(name),
		DimensionsMap: &dims, Statistic: jsii.String("Sum"), Period: o.Period, Label: o.Label})
}

// uploadFailuresWaiting is the most uploads waiting in the failure queue
// in a period.
func (f *FleetApi) uploadFailuresWaiting(o *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	return f.uploadFailures.MetricApproximateNumberOfMessagesVisible(metricOptions(&awscloudwatch.MetricOptions{Period: o.Period, Label: o.Label}, "Maximum"))
}
