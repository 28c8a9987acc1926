package fleetapi_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
)

// A team that has its own alarm topic passes it: the construct then makes
// no topic and no key, its alarms notify that topic, and e-mails subscribe
// to it. Without MonthlyBudgetUsd there is no budget.
func TestAlarmsNotifyAGivenTopic(t *testing.T) {
	const arn = "arn:aws:sns:eu-west-1:123456789012:team-alarms"
	tmpl := mustBuild(t, &fleetapi.FleetApiProps{AlarmEmails: jsii.Strings("oncall@example.com")}, nil)
	tmpl.ResourceCountIs(jsii.String("AWS::SNS::Topic"), jsii.Number(1))
	tmpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "oncall@example.com"})

	mustBuild(t, nil, nil).ResourceCountIs(jsii.String("AWS::Budgets::Budget"), jsii.Number(0))

	withTopic, err := buildWithTopic(arn)
	if err != nil {
		t.Fatal(err)
	}
	withTopic.ResourceCountIs(jsii.String("AWS::SNS::Topic"), jsii.Number(0))
	withTopic.ResourceCountIs(jsii.String("AWS::KMS::Key"), jsii.Number(0))
	withTopic.AllResourcesProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"AlarmActions": []any{arn}, "OKActions": []any{arn},
	})
}

func buildWithTopic(arn string) (assertions.Template, error) {
	var tmpl assertions.Template
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = r.(error)
			}
		}()
		stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Consumer"), nil)
		topic := awssns.Topic_FromTopicArn(stack, jsii.String("Team"), jsii.String(arn))
		fleetapi.NewFleetApi(stack, "Fleet", &fleetapi.FleetApiProps{AlarmTopic: topic})
		tmpl = assertions.Template_FromStack(stack, nil)
	}()
	return tmpl, err
}

// The Metric* methods give other teams the metrics the alarms use.
func TestMetricsForOtherTeams(t *testing.T) {
	mustBuild(t, nil, func(stack awscdk.Stack, api *fleetapi.FleetApi) {
		if n := len(api.Alarms()); n != 17 {
			t.Errorf("%d alarms, want 17 (no reserved concurrency)", n)
		}
		awscloudwatch.NewAlarm(stack, jsii.String("Refused"), &awscloudwatch.AlarmProps{
			Metric: api.MetricAccessRefused(nil), Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
		})
		awscloudwatch.NewAlarm(stack, jsii.String("NoUploads"), &awscloudwatch.AlarmProps{
			Metric:             api.MetricSamplesIngested(nil),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		})
		if s := *api.MetricApiLatency(nil).Statistic(); s != "p99" {
			t.Errorf("MetricApiLatency statistic %s, want p99", s)
		}
		if s := *api.MetricApiServerErrors(nil).Statistic(); s != "Sum" {
			t.Errorf("MetricApiServerErrors statistic %s, want Sum", s)
		}
	})
}
