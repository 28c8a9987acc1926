package fleetapi

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// newDashboard defines the stage's dashboard: the API, the upload rate,
// the objectives' error budgets, the MQTT uploads, the fleet's figures and
// the tracker, the history writer, the synthetic vehicle's steps, every function and every
// table.
func newDashboard(scope constructs.Construct, p FleetApiProps, m monitored) awscloudwatch.Dashboard {
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	stat := func(s string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String(s), Label: jsii.String(s)}
	}
	graph := func(title string, left []awscloudwatch.IMetric, right ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Right: &right, Width: jsii.Number(8), Height: jsii.Number(6),
		})
	}
	// How far a stream reader is behind the uploads, in seconds.
	secondsBehind := func(fn awslambda.Function, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String("age / 1000"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{"age": fn.Metric(jsii.String("IteratorAge"), stat("Maximum"))},
			Label:        jsii.String(label), Period: minute,
		})
	}
	stage := m.restApi.DeploymentStage()
	rows := [][]awscloudwatch.IWidget{{
		graph("API requests", []awscloudwatch.IMetric{stage.MetricCount(stat("Sum"))}),
		graph("API 4XX and 5XX", []awscloudwatch.IMetric{
			stage.MetricClientError(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("4XX")}),
			stage.MetricServerError(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("5XX")}),
		}),
		graph("API latency (ms)", []awscloudwatch.IMetric{stage.MetricLatency(stat("p50")), stage.MetricLatency(stat("p99"))}),
	}, {
		graph("Samples ingested per minute", []awscloudwatch.IMetric{m.base.MetricSamplesIngested(&awscloudwatch.MetricOptions{Period: minute})}),
		graph("Requests refused by the functions (403: caller or vehicle not allowed)", []awscloudwatch.IMetric{m.base.MetricAccessRefused(&awscloudwatch.MetricOptions{Period: minute})}),
	}, errorBudgetWidgets(p, m)}
	if u := m.upload; u != nil {
		labeled := func(label string) *awscloudwatch.MetricOptions {
			return &awscloudwatch.MetricOptions{Period: minute, Label: jsii.String(label)}
		}
		rows = append(rows, []awscloudwatch.IWidget{
			graph("MQTT uploads: messages the rule handed on", []awscloudwatch.IMetric{
				u.ruleActionMetric("Success", "to the ingest function", minute), u.ruleActionMetric("Failure", "failed", minute),
			}, uploadRuleMetric(u.ruleName, "RuleMessageThrottled", labeled("throttled"))),
			graph("MQTT uploads not stored, waiting in the failure queue", []awscloudwatch.IMetric{u.failuresWaiting(labeled("messages"))}),
		})
	}
	if tr := m.tracker; tr != nil {
		labeled := func(name, label string) awscloudwatch.IMetric {
			return tr.fleetMetric(name, &awscloudwatch.MetricOptions{Label: jsii.String(label)})
		}
		rows = append(rows, []awscloudwatch.IWidget{
			graph("Fleet: vehicles connected, silent, not seen", []awscloudwatch.IMetric{
				labeled(metrics.VehiclesConnected, "connected"), labeled(metrics.VehiclesSilent, "connected and silent"),
			}, labeled(metrics.VehiclesNotSeen, "not seen")),
			graph("Vehicles' state: how far behind the uploads (s)", []awscloudwatch.IMetric{
				secondsBehind(tr.function, "IteratorAge, the batching window included"),
			}),
			graph("Tracker: what it gave up on, waiting in its failure queue", []awscloudwatch.IMetric{
				tr.failures.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: minute, Label: jsii.String("messages")}),
			}),
		}, []awscloudwatch.IWidget{
			graph("tracker: invocations and errors", []awscloudwatch.IMetric{tr.function.MetricInvocations(stat("Sum")), tr.function.MetricErrors(stat("Sum"))}),
			graph("tracker: duration (ms)", []awscloudwatch.IMetric{tr.function.MetricDuration(stat("p50")), tr.function.MetricDuration(stat("p99"))}),
		})
	}
	if h := m.history; h != nil {
		rows = append(rows, []awscloudwatch.IWidget{
			graph("History: how far behind the uploads (s)", []awscloudwatch.IMetric{
				secondsBehind(h.function, "IteratorAge, the 5-minute batching window included"),
			}),
			graph("History writer: batches, errors, and what waits in its failure queue", []awscloudwatch.IMetric{
				h.function.MetricInvocations(stat("Sum")), h.function.MetricErrors(stat("Sum")),
				h.failures.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: minute, Label: jsii.String("failures waiting")}),
			}),
		})
	}
	if sv := m.synthetic; sv != nil {
		var success, latency []awscloudwatch.IMetric
		for _, step := range metrics.SyntheticSteps() {
			success = append(success, sv.stepMetric(metrics.SyntheticVehicleSuccess, step, "Minimum", minute))
			latency = append(latency, sv.stepMetric(metrics.SyntheticVehicleLatency, step, "Maximum", minute))
		}
		rows = append(rows, []awscloudwatch.IWidget{
			graph("Synthetic vehicle: success of each step (1 every run)", success),
			graph("Synthetic vehicle: latency of each step (ms)", latency),
		})
	}
	for _, name := range m.functions.sorted() {
		fn := m.functions.byName[name]
		rows = append(rows, []awscloudwatch.IWidget{
			graph(name+": invocations and errors", []awscloudwatch.IMetric{fn.MetricInvocations(stat("Sum")), fn.MetricErrors(stat("Sum"))},
				fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("Throttles")})),
			graph(name+": duration (ms)", []awscloudwatch.IMetric{fn.MetricDuration(stat("p50")), fn.MetricDuration(stat("p99"))}),
			graph(name+": concurrency", []awscloudwatch.IMetric{fn.Metric(jsii.String("ConcurrentExecutions"), stat("Maximum"))}),
		})
	}
	for _, table := range m.tables.each() {
		rows = append(rows, []awscloudwatch.IWidget{
			graph(table.title+": consumed units", []awscloudwatch.IMetric{
				table.table.MetricConsumedReadCapacityUnits(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("read")}),
				table.table.MetricConsumedWriteCapacityUnits(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("write")}),
			}),
			graph(table.title+": throttled requests", []awscloudwatch.IMetric{
				m.functions.tableOperationsMetric("ThrottledRequests", "throttled requests", map[string]awsdynamodb.Table{"": table.table}, minute),
			}),
		})
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	// Dashboard names are the account's, across Regions: the Region in it
	// lets one stage deploy to two Regions of an account.
	return awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(namePrefix(scope) + "-" + *awscdk.Stack_Of(scope).Region()),
		Widgets:       &widgets,
	})
}

// Dashboard is the CloudWatch dashboard of the API.
func (f *FleetApi) Dashboard() awscloudwatch.Dashboard { return f.dashboard }
