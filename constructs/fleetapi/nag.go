package fleetapi

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// nagSuppression is one cdk-nag rule suppressed on a resource, with the
// reason a reviewer reads and, for rules that name what they flag, the
// findings it applies to.
type nagSuppression struct {
	id, reason string
	// appliesTo holds finding strings, or {"regex": "/.../"} objects.
	appliesTo []any
}

// Reasons of the suppressions: each finding is a false positive or a
// deliberate choice, said once here.
var (
	nagDLQ = nagSuppression{id: "Serverless-LambdaDLQ", reason: "Only API Gateway invokes the function, synchronously: a failure is answered to the caller, who retries. " +
		"A dead-letter queue receives failed asynchronous invocations only, and there are none."}
	nagDLQAsync = nagSuppression{id: "Serverless-LambdaDLQ", reason: "API Gateway invokes the function synchronously, and the upload rule asynchronously: " +
		"a failed asynchronous invocation goes, after Lambda's retries, to the on-failure destination (UploadFailures), which records the function's error too; a dead-letter queue would only duplicate it."}
	nagFailureQueue = []nagSuppression{
		{id: "AwsSolutions-SQS3", reason: "The queue is where failed MQTT uploads end (the ingest function's on-failure destination and the upload rule's error action), " +
			"read only to redrive them: nothing consumes it that could fail, so a dead-letter queue of it would receive nothing."},
		{id: "Serverless-SQSRedrivePolicy", reason: "The queue is itself the end of the failure path of MQTT uploads (see AwsSolutions-SQS3): it has no consumer to redrive from."},
	}
	nagXRay = nagSuppression{id: "AwsSolutions-IAM5", appliesTo: []any{"Resource::*"},
		reason: "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permission (AWS X-Ray's actions, resources and condition keys): '*' is their only resource. " +
			"Every other statement names its table, log group or secret."}
	nagCursorKey = nagSuppression{id: "AwsSolutions-SMG4", reason: "The secret only signs pagination cursors, which live for one listing, and is no credential of another system: " +
		"rotating it would only invalidate the cursors of listings under way."}
	nagValidation = nagSuppression{id: "AwsSolutions-APIG2", reason: "Request validation is on for every operation in the imported OpenAPI body (validator 'all': body and parameters), " +
		"which cdk-nag does not read; the template tests check it per operation."}
	nagWAF = nagSuppression{id: "AwsSolutions-APIG3", reason: "Every operation requires a SigV4 signature of a principal granted execute-api:Invoke, the stage is throttled and the tables' " +
		"on-demand throughput capped. A web ACL can still be associated with the stage by its owner."}
	nagCloudWatchRole = nagSuppression{id: "AwsSolutions-IAM4",
		appliesTo: []any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
		reason:    "API Gateway's account-wide logging role: AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for it, and only apigateway.amazonaws.com may assume the role."}
	nagDeploymentRole = nagSuppression{id: "AwsSolutions-IAM4",
		appliesTo: []any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited"},
		reason: "CodeDeploy's service role for Lambda deployments: AWSCodeDeployRoleForLambdaLimited is the policy the CodeDeploy User Guide documents for it " +
			"(read alarms, get and update aliases), and only codedeploy.amazonaws.com may assume the role."}
	nagSyntheticProvider = nagSuppression{id: "AwsSolutions-IAM5", appliesTo: []any{"Resource::*", "Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:cert/*"},
		reason: "The synthetic vehicle's custom resource: iot:CreateCertificateFromCsr, iot:DescribeEndpoint, iot:AttachThingPrincipal and iot:DetachThingPrincipal " +
			"support no resource-level permission (AWS IoT's actions, resources and condition keys), nor do xray:PutTraceSegments and xray:PutTelemetryRecords; " +
			"the certificate's ID is known only once CreateCertificateFromCsr made it, so its actions name the account's certificates. Its thing, secret and table are named."}
	nagSyntheticSecret = nagSuppression{id: "AwsSolutions-SMG4", reason: "The secret holds the synthetic vehicle's certificate and the key made for it by its custom resource, " +
		"which Secrets Manager cannot rotate alone: a new key needs a new certificate, made by replacing the custom resource."}
	nagSyntheticAsync = []nagSuppression{
		{id: "Serverless-LambdaDLQ", reason: "The synthetic vehicle runs on a schedule: a run that failed or never ran is a period without a success, which its alarm treats as a failure; " +
			"a queue of missed schedule events would hold nothing anyone replays."},
		{id: "Serverless-LambdaAsyncFailureDestination", reason: "The synthetic vehicle runs on a schedule, without retries: the next minute's run is the retry, and a missing run breaches its alarm."},
	}
	nagSyntheticSchedule = nagSuppression{id: "Serverless-EventBusDLQ", reason: "The schedule's events carry nothing: one not delivered is a missed run, which the synthetic vehicle's alarm " +
		"treats as a failure; a dead-letter queue would hold stale triggers."}
	nagSyntheticProviderDLQ = nagSuppression{id: "Serverless-LambdaDLQ", reason: "Only CloudFormation invokes the custom resource, and the function answers it on every outcome " +
		"(aws-lambda-go's cfn.LambdaWrap, on errors and panics too): CloudFormation is where a failure shows."}
	nagSyntheticReader = nagSuppression{id: "AwsSolutions-IAM5", appliesTo: []any{"Resource::*", map[string]any{"regex": "/^Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<[A-Za-z0-9]+>\\/<[A-Za-z0-9]+>\\/GET\\/vehicles\\/\\*\\/events\\/\\*$/g"}},
		reason: "The synthetic vehicle reads its uploads back as a fleet reader, granted getEvent alone on this API's stage ('*' the vid and the event); " +
			"xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permission."}
	nagCallers = nagSuppression{id: "AwsSolutions-IAM5", appliesTo: []any{map[string]any{"regex": "/^Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<[A-Za-z0-9]+>\\/<[A-Za-z0-9]+>\\/(GET|POST|PUT)\\//g"}},
		reason: "execute-api:Invoke on this API's stage only, each resource one method and path of an operation of the caller class: '*' stands for a path parameter " +
			"(any vehicle for the fleet classes, the eid of one of its events for a vehicle) and ${aws:PrincipalTag/vid} for the vehicle's own vid. " +
			"Operations a pattern reaches beyond the class's are denied."}
	nagTrackerQueue = []nagSuppression{
		{id: "AwsSolutions-SQS3", reason: "The queue is where the tracker's failures end (its stream mapping's and its asynchronous invocations' on-failure destination, the lifecycle rule's error action), " +
			"read by an operator only: nothing consumes it that could fail, so a dead-letter queue of it would receive nothing."},
		{id: "Serverless-SQSRedrivePolicy", reason: "The queue is itself the end of the tracker's failure path (see AwsSolutions-SQS3): it has no consumer to redrive from."},
	}
	nagHistoryQueue = []nagSuppression{
		{id: "AwsSolutions-SQS3", reason: "The queue is where the history writer's failures end (the records it cannot decode, its stream mapping's on-failure destination): " +
			"read by an operator to write the missing history, nothing consumes it that could fail."},
		{id: "Serverless-SQSRedrivePolicy", reason: "The queue is itself the end of the history writer's failure path (see AwsSolutions-SQS3): it has no consumer to redrive from."},
	}
	nagHistoryDLQ = nagSuppression{id: "Serverless-LambdaDLQ", reason: "Only its stream mapping invokes the history writer, synchronously; " +
		"a batch it gives up on goes to the mapping's on-failure destination (HistoryFailures)."}
	nagHistoryTracing = nagSuppression{id: "Serverless-LambdaTracing", reason: "The history writer serves no caller: its stream batches have no request to trace; " +
		"its log line per batch says what it wrote, and its IteratorAge how far behind it is."}
	nagHistoryRole = nagSuppression{id: "AwsSolutions-IAM5",
		appliesTo: []any{map[string]any{"regex": "/^Resource::<FleetVehicleEvents[A-Za-z0-9]*\\.Arn>\\/stream\\/\\*$/g"}, map[string]any{"regex": "/^Resource::<FleetHistoryBucket[A-Za-z0-9]*\\.Arn>\\/samples\\/\\*$/g"}},
		reason: "The history writer reads the events table's stream as the DynamoDB Developer Guide's policy for a Lambda function writes it (TABLE/stream/*: the stream's label is known only once it exists), " +
			"and puts objects under the history table's prefix alone (samples/*): their keys are the batches'."}
	nagHistoryReader = nagSuppression{id: "AwsSolutions-IAM5",
		appliesTo: []any{map[string]any{"regex": "/^Resource::<FleetHistory(Bucket|Results)[A-Za-z0-9]*\\.Arn>\\/(samples\\/)?\\*$/g"}},
		reason:    "A fleet reader's queries read the history's objects (samples/*, Athena reads the partitions the query selects) and write and read their results in the results bucket (*: Athena names them per query)."}
	nagHistoryAccessLogs = nagSuppression{id: "AwsSolutions-S1", reason: "The history bucket is written by the history writer alone and read through Athena, whose query history and CloudTrail record who read what; " +
		"server access logs would be a second bucket of logs of every object the writer puts."}
	nagResultsAccessLogs = nagSuppression{id: "AwsSolutions-S1", reason: "The results bucket holds Athena's query results for 7 days; Athena's query history records each query and who ran it."}
	nagUploadTracing     = nagSuppression{id: "Serverless-LambdaTracing", reason: "The upload's function passes traces through: it traces the uploads API Gateway sampled (the stage traces), " +
		"not the upload rule's invocations, which carry no trace header and are most of its invocations; each upload's log line says how long it took."}
	nagTrackerDLQ = nagSuppression{id: "Serverless-LambdaDLQ", reason: "The tracker's asynchronous invocations (lifecycle events, the figures' schedule) go, after Lambda's retries, to the on-failure destination " +
		"(TrackerFailures), which records the function's error too; a dead-letter queue would only duplicate it. Its stream batches have their own on-failure destination, the same queue."}
	nagTrackerRole = nagSuppression{id: "AwsSolutions-IAM5", appliesTo: []any{map[string]any{"regex": "/^Resource::<FleetVehicleEvents[A-Za-z0-9]*\\.Arn>\\/stream\\/\\*$/g"}},
		reason: "The tracker reads the events table's stream as the DynamoDB Developer Guide's policy for a Lambda function writes it: dynamodb:DescribeStream, GetRecords, GetShardIterator and ListStreams " +
			"on TABLE/stream/* (the table's streams, whose ARN ends in their creation time). Its tables and queue are named."}
	nagTrackerTracing = nagSuppression{id: "Serverless-LambdaTracing", reason: "The tracker serves no caller: its stream batches, lifecycle events and counts have no request to trace, " +
		"and with active tracing X-Ray would record most of its invocations (the first each second is sampled): traces of no use, billed each. Its log has a line per invocation."}
	nagFiguresSchedule = nagSuppression{id: "Serverless-EventBusDLQ", reason: "The figures' schedule events carry nothing: one not delivered is a count skipped, and the next one, five minutes later, " +
		"counts the same fleet; a dead-letter queue would hold stale triggers."}
	nagNoPITR = nagSuppression{id: "AwsSolutions-DDB3", reason: "Point-in-time recovery is off on purpose, by the pointInTimeRecovery prop (a stage whose data is disposable); " +
		"it is on by default."}
)

// suppressNagFindings puts on each resource the cdk-nag suppressions it
// needs, as the metadata cdk-nag reads (cdk_nag.rules_to_suppress): the
// construct depends on no cdk-nag package, and the suppressions travel with
// it into every app that composes it.
func suppressNagFindings(scope constructs.Construct, p FleetApiProps, fns functions, restApi awsapigateway.SpecRestApi, callers callerRoles, upload *uploadPath, t tables, d deployments,
	sv *syntheticVehicle, tr *trackerResource, h *historyResource) {
	for _, name := range fns.sorted() {
		fn := fns.byName[name]
		// Only the upload path invokes a function asynchronously.
		if upload != nil && fn == upload.function {
			suppressNag(fn.Node().DefaultChild(), nagDLQAsync, nagUploadTracing)
		} else if name == fns.uploadName {
			suppressNag(fn.Node().DefaultChild(), nagDLQ, nagUploadTracing)
		} else {
			suppressNag(fn.Node().DefaultChild(), nagDLQ)
		}
		suppressNag(fn.Role().Node().FindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), nagXRay)
	}
	suppressNag(scope.Node().FindChild(jsii.String("CursorKey")).Node().DefaultChild(), nagCursorKey)
	suppressNag(restApi.Node().DefaultChild(), nagValidation)
	suppressNag(restApi.DeploymentStage().Node().DefaultChild(), nagWAF)
	if role := restApi.Node().TryFindChild(jsii.String("CloudWatchRole")); role != nil {
		suppressNag(role.Node().DefaultChild(), nagCloudWatchRole)
	}
	for _, role := range []awsiam.Role{callers.vehicle, callers.fleet[contract.CallerFleetRead], callers.fleet[contract.CallerFleetAdmin]} {
		suppressNag(role.Node().FindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), nagCallers)
	}
	if upload != nil {
		suppressNag(upload.failures.Node().DefaultChild(), nagFailureQueue...)
	}
	suppressNag(d.role.Node().DefaultChild(), nagDeploymentRole)
	if sv != nil {
		suppressNag(sv.provider.Role().Node().FindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), nagSyntheticProvider)
		suppressNag(sv.provider.Node().DefaultChild(), nagSyntheticProviderDLQ)
		suppressNag(sv.function.Role().Node().FindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), nagSyntheticReader)
		suppressNag(sv.function.Node().DefaultChild(), nagSyntheticAsync[0])
		suppressNag(sv.function.Node().FindChild(jsii.String("EventInvokeConfig")).Node().DefaultChild(), nagSyntheticAsync[1])
		suppressNag(sv.schedule.Node().DefaultChild(), nagSyntheticSchedule)
		suppressNag(sv.secret, nagSyntheticSecret)
	}
	suppressNag(tr.function.Node().DefaultChild(), nagTrackerDLQ, nagTrackerTracing)
	suppressNag(tr.function.Role().Node().FindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), nagTrackerRole)
	suppressNag(tr.failures.Node().DefaultChild(), nagTrackerQueue...)
	suppressNag(tr.schedule.Node().DefaultChild(), nagFiguresSchedule)
	if h != nil {
		suppressNag(h.function.Node().DefaultChild(), nagHistoryDLQ, nagHistoryTracing)
		suppressNag(h.function.Role().Node().FindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), nagHistoryRole)
		suppressNag(h.failures.Node().DefaultChild(), nagHistoryQueue...)
		suppressNag(h.bucket.Node().DefaultChild(), nagHistoryAccessLogs)
		suppressNag(h.results.Node().DefaultChild(), nagResultsAccessLogs)
		suppressNag(callers.fleet[contract.CallerFleetRead].Node().FindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), nagHistoryReader)
	}
	if !*p.PointInTimeRecovery {
		for _, table := range t.each() {
			suppressNag(table.table.Node().DefaultChild(), nagNoPITR)
		}
	}
}

// suppressNag adds suppressions to a CloudFormation resource's cdk_nag
// metadata, after those it has.
func suppressNag(resource constructs.IConstruct, rules ...nagSuppression) {
	cfn, ok := resource.(awscdk.CfnResource)
	if !ok {
		panic(fmt.Errorf("fleetapi: cannot suppress %s on %s: not a CloudFormation resource", rules[0].id, *resource.Node().Path()))
	}
	var list []any
	if meta, ok := cfn.GetMetadata(jsii.String("cdk_nag")).(map[string]any); ok {
		list, _ = meta["rules_to_suppress"].([]any)
	}
	for _, r := range rules {
		entry := map[string]any{"id": r.id, "reason": r.reason}
		if len(r.appliesTo) > 0 {
			entry["applies_to"] = r.appliesTo
		}
		list = append(list, entry)
	}
	cfn.AddMetadata(jsii.String("cdk_nag"), map[string]any{"rules_to_suppress": list})
}
