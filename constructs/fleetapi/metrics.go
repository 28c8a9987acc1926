package fleetapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// The metric factory: every metric the construct's methods, alarms and
// dashboard read is made here. (The metrics of a function or a table the
// CDK makes itself, fn.MetricErrors and the like, are the CDK's.)

// metricOptions returns a copy of opts with the statistic set to stat when
// opts names none.
func metricOptions(opts *awscloudwatch.MetricOptions, stat string) *awscloudwatch.MetricOptions {
	var o awscloudwatch.MetricOptions
	if opts != nil {
		o = *opts
	}
	if o.Statistic == nil {
		o.Statistic = jsii.String(stat)
	}
	return &o
}

// newMetric is a metric of a namespace with the caller's options applied.
func newMetric(namespace, name string, dims map[string]*string, o *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(namespace), MetricName: jsii.String(name), DimensionsMap: &dims,
		Period: o.Period, Statistic: o.Statistic, Label: o.Label, Color: o.Color, Unit: o.Unit, Account: o.Account, Region: o.Region,
	})
}

// stageMetric is a metric of API Gateway's for a stage, as the CDK's
// Stage.metric makes it: namespace AWS/ApiGateway, dimensions ApiName and
// Stage.
func stageMetric(name string, apiName, stage *string, o *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return newMetric("AWS/ApiGateway", name, map[string]*string{"ApiName": apiName, "Stage": stage}, o)
}

// methodMetric is a metric of one method of the stage (API Gateway's
// per-method metrics; detailed metrics are on): its Resource dimension is
// the method's path template.
func methodMetric(name string, apiName, stage *string, method, resource string, o *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return newMetric("AWS/ApiGateway", name, map[string]*string{"ApiName": apiName, "Stage": stage, "Method": jsii.String(method), "Resource": jsii.String(resource)}, o)
}

// functionMetric is a metric a function writes in CloudWatch embedded
// metric format (package metrics), by its function's name.
func functionMetric(name string, function *string, o *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return newMetric(metrics.Namespace, name, map[string]*string{metrics.DimensionFunctionName: function}, o)
}

// uploadRuleMetric is a rule metric of AWS/IoT of the upload rule (Sum),
// whose one dimension is RuleName (AWS IoT Core Developer Guide, "AWS IoT
// metrics and dimensions", rule metrics).
func uploadRuleMetric(rule, name string, o *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("AWS/IoT"), MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{"RuleName": jsii.String(rule)}, Statistic: jsii.String("Sum"), Period: o.Period, Label: o.Label})
}

// ruleActionMetric is a rule action metric of the upload rule (Failure,
// Success, ErrorActionFailure), summed over its action types. Those
// metrics also have the dimension ActionType, whose values no AWS page
// states; a CloudWatch Metrics Insights query sums them without naming
// one (CloudWatch User Guide, "Create a CloudWatch alarm based on a
// Metrics Insights query": a query that returns a single time series).
func (u *uploadPath) ruleActionMetric(name, label string, period awscdk.Duration) awscloudwatch.IMetric {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf(`SELECT SUM(%s) FROM SCHEMA("AWS/IoT", ActionType, RuleName) WHERE RuleName = '%s'`, name, u.ruleName)),
		Label:      jsii.String(label),
		Period:     period,
	})
}

// uploadFailuresWaiting is the most uploads waiting in the failure queue
// in a period.
func (u *uploadPath) failuresWaiting(o *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	return u.failures.MetricApproximateNumberOfMessagesVisible(metricOptions(&awscloudwatch.MetricOptions{Period: o.Period, Label: o.Label}, "Maximum"))
}

// sumOf is the sum of a metric over keyed items (the functions), in metric
// math named by the keys (filledSum: a function that had no refusal in a
// period has no data point).
func sumOf[T any](what string, items map[string]T, o *awscloudwatch.MetricOptions, metric func(T) awscloudwatch.IMetric) awscloudwatch.IMetric {
	using := map[string]awscloudwatch.IMetric{}
	for name, item := range items {
		using[name] = metric(item)
	}
	return filledSum(what, using, o.Period)
}

// filledSum is the sum of metrics, keyed by their IDs in metric math, each
// FILLed with 0 so that one without a data point in a period does not
// drop the period.
func filledSum(label string, using map[string]awscloudwatch.IMetric, period awscdk.Duration) awscloudwatch.IMetric {
	var terms []string
	for _, id := range slices.Sorted(maps.Keys(using)) {
		terms = append(terms, "FILL("+id+", 0)")
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String(strings.Join(terms, " + ")),
		UsingMetrics: &using,
		Label:        jsii.String(label),
		Period:       period,
	})
}

// metricOptions are the options with the default statistic and, for an API
// of another account or Region, that account and Region.
func (b *FleetApiBase) metricOptions(opts *awscloudwatch.MetricOptions, stat string) *awscloudwatch.MetricOptions {
	o := metricOptions(opts, stat)
	if o.Account == nil {
		o.Account = b.account
	}
	if o.Region == nil {
		o.Region = b.region
	}
	return o
}

// MetricUploads is the number of upload requests (the spec's upload, over
// HTTPS) the API stage received. Default statistic: Sum, over 5 minutes.
func (b *FleetApiBase) MetricUploads(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	upload := b.spec.Upload()
	return methodMetric("Count", b.apiName, b.stageName, upload.Method, upload.Path, b.metricOptions(opts, "Sum"))
}

// MetricSamplesIngested is the number of samples stored by uploads (a
// retried upload stores none), which a metric filter of the upload
// function's log group reads from its log lines.
// Default statistic: Sum, over 5 minutes.
func (b *FleetApiBase) MetricSamplesIngested(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return functionMetric(metrics.SamplesIngested, b.functionNames[b.spec.Upload().Function], b.metricOptions(opts, "Sum"))
}

// MetricAccessRefused is the number of requests the functions refused,
// 403, because the caller may not call the operation or not on the
// vehicle it names (metrics.AccessRefused, which each function writes into
// its log line in CloudWatch embedded metric format), over all functions.
// Default statistic: Sum, over 5 minutes.
func (b *FleetApiBase) MetricAccessRefused(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	o := b.metricOptions(opts, "Sum")
	return sumOf("refused requests", b.functionNames, o, func(name *string) awscloudwatch.IMetric { return functionMetric(metrics.AccessRefused, name, o) })
}

// MetricApiServerErrors is the number of 5XX answers of the API stage.
// Default statistic: Sum, over 5 minutes.
func (b *FleetApiBase) MetricApiServerErrors(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric("5XXError", b.apiName, b.stageName, b.metricOptions(opts, "Sum"))
}

// MetricApiLatency is the latency of the API stage's answers in milliseconds.
// Default statistic: p99, over 5 minutes.
func (b *FleetApiBase) MetricApiLatency(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric("Latency", b.apiName, b.stageName, b.metricOptions(opts, "p99"))
}

// tableOperationsMetric sums a per-operation DynamoDB metric (Sum) over
// the operations the functions perform on the tables, each term FILLed
// with 0: DynamoDB writes a data point only for an operation that had the
// event, and a sum with a missing term has no data point at all, which
// would drop the very period of a throttle on one operation.
func (fs functions) tableOperationsMetric(name, label string, tables map[string]awsdynamodb.Table, period awscdk.Duration) awscloudwatch.IMetric {
	using := map[string]awscloudwatch.IMetric{}
	for prefix, table := range tables {
		for _, op := range fs.tableOperations[table] {
			using[prefix+strings.ToLower(op)] = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String("AWS/DynamoDB"), MetricName: jsii.String(name),
				DimensionsMap: &map[string]*string{"TableName": table.TableName(), "Operation": jsii.String(op)},
				Statistic:     jsii.String("Sum"), Period: period,
			})
		}
	}
	return filledSum(label, using, period)
}

// functionServerErrors is the number of the API's 5XX answers of the
// operations a function serves (per-method metrics, each FILLed).
func (m monitored) functionServerErrors(name string, period awscdk.Duration) awscloudwatch.IMetric {
	using := map[string]awscloudwatch.IMetric{}
	for _, r := range m.functions.routes {
		if r.function == m.functions.byName[name] {
			using["e_"+r.id] = methodMetric("5XXError", m.base.apiName, m.base.stageName, r.method, r.path, &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")})
		}
	}
	return filledSum("5XX answers of "+name, using, period)
}

// MetricFunctionErrors is the number of errors of all the API's functions.
// Default statistic: Sum, over 5 minutes.
func (f *FleetApi) MetricFunctionErrors(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	return f.sumOverFunctions("errors", opts, func(fn awslambda.Function, o *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
		return fn.MetricErrors(o)
	})
}

// MetricFunctionThrottles is the number of throttled invocations of all
// the API's functions. Default statistic: Sum, over 5 minutes.
func (f *FleetApi) MetricFunctionThrottles(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	return f.sumOverFunctions("throttles", opts, func(fn awslambda.Function, o *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
		return fn.MetricThrottles(o)
	})
}

// MetricTableThrottledRequests is the number of throttled requests of both
// tables, over the operations the functions perform. Default: Sum, 5 minutes.
func (f *FleetApi) MetricTableThrottledRequests(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	o := metricOptions(opts, "Sum")
	return f.functions.tableOperationsMetric("ThrottledRequests", "table throttled requests", map[string]awsdynamodb.Table{"vehicles_": f.tables.vehicles, "events_": f.tables.events}, o.Period)
}

func (f *FleetApi) sumOverFunctions(what string, opts *awscloudwatch.MetricOptions, metric func(awslambda.Function, *awscloudwatch.MetricOptions) awscloudwatch.IMetric) awscloudwatch.IMetric {
	o := metricOptions(opts, "Sum")
	return sumOf("function "+what, f.functions.byName, o, func(fn awslambda.Function) awscloudwatch.IMetric { return metric(fn, o) })
}

// newSamplesIngestedFilter makes metrics.SamplesIngested, in the stage's
// function's dimension, from the upload function's log lines: a metric
// filter has no charge of its own (its metric is a custom metric, as an
// embedded one is) and leaves the line without the embedded format's
// directive.
func newSamplesIngestedFilter(scope constructs.Construct, logs awslogs.ILogGroup) awslogs.MetricFilter {
	return awslogs.NewMetricFilter(scope, jsii.String("SamplesIngestedFilter"), &awslogs.MetricFilterProps{
		LogGroup:        logs,
		FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(metrics.SamplesIngestedFilterPattern)),
		MetricNamespace: jsii.String(metrics.Namespace),
		MetricName:      jsii.String(metrics.SamplesIngested),
		MetricValue:     jsii.String("$." + metrics.SamplesIngested),
		Dimensions:      &map[string]*string{metrics.DimensionFunctionName: jsii.String("$." + metrics.FieldFunction)},
		Unit:            awscloudwatch.Unit_COUNT,
	})
}
