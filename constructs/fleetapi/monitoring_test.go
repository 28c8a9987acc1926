package fleetapi_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/testutil/cdktest"
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
	// Every alarm that notifies, notifies the topic; the burn-rate windows
	// notify only through their composite alarm.
	for _, typ := range []string{"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"} {
		for name, a := range alarmsByName(t, withTopic, typ, "AlarmName") {
			window := regexp.MustCompile(`-BurnRate-\d+[mh]$`).MatchString(name)
			switch {
			case window && a["AlarmActions"] == nil && a["OKActions"] == nil:
			case !window && fmt.Sprint(a["AlarmActions"]) == "["+arn+"]" && fmt.Sprint(a["OKActions"]) == "["+arn+"]":
			default:
				t.Errorf("%s %s: actions %v, OK actions %v", typ, name, a["AlarmActions"], a["OKActions"])
			}
		}
	}
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
		if n := len(api.Alarms()); n != 26 {
			t.Errorf("%d alarms, want 26 (no reserved concurrency; each function's 5XX rolls its deployment back; the tracker's 3, the silent vehicles', the state table's 2)", n)
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

// Each alarm notifies the topic of its severity: the construct's default
// severities, a prop's override, and actions added per severity.
func TestAlarmsRouteBySeverity(t *testing.T) {
	var api *fleetapi.FleetApi
	mustBuild(t, nil, func(_ awscdk.Stack, f *fleetapi.FleetApi) { api = f })
	defaults := fleetapi.DefaultAlarmSeverities()
	for _, s := range fleetapi.Severities() {
		if len(api.AlarmsOf(s)) == 0 {
			t.Errorf("no %s alarm", s)
		}
	}
	if n := len(api.AlarmsOf(fleetapi.SeverityCritical)) + len(api.AlarmsOf(fleetapi.SeverityWarning)); n != len(api.Alarms()) {
		t.Errorf("%d alarms by severity, %d in all", n, len(api.Alarms()))
	}
	if defaults["Api-5XXError"] != fleetapi.SeverityCritical || defaults["Api-Latency-p99"] != fleetapi.SeverityWarning {
		t.Errorf("defaults %v", defaults)
	}

	var pager awssns.Topic
	var routed *fleetapi.FleetApi
	props := &fleetapi.FleetApiProps{AlarmSeverities: &map[string]*string{"Api-Latency-p99": jsii.String(fleetapi.SeverityCritical)}}
	tmpl := mustBuild(t, props, func(stack awscdk.Stack, f *fleetapi.FleetApi) {
		routed = f
		pager = awssns.NewTopic(stack, jsii.String("Pager"), nil)
		f.AddAlarmAction(fleetapi.SeverityCritical, awscloudwatchactions.NewSnsAction(pager))
	})
	if len(routed.AlarmsOf(fleetapi.SeverityCritical)) != len(api.AlarmsOf(fleetapi.SeverityCritical))+1 {
		t.Errorf("the override did not make Api-Latency-p99 critical")
	}
	pagerRef := map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("Pager.*"))}
	cdktest.Check(t, "a critical alarm pages", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"AlarmName":    assertions.Match_StringLikeRegexp(jsii.String(".*-Api-Latency-p99")),
			"AlarmActions": assertions.Match_ArrayWith(&[]any{pagerRef}),
		})
	})
	cdktest.Check(t, "a warning does not page", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"AlarmName":    assertions.Match_StringLikeRegexp(jsii.String(".*-Api-4XXError-rate")),
			"AlarmActions": assertions.Match_Not(assertions.Match_ArrayWith(&[]any{pagerRef})),
		})
	})

	// A topic per severity instead of the alarm topic.
	var critical, warning awssns.Topic
	tmpl = mustBuildWith(t, func(stack awscdk.Stack) *fleetapi.FleetApiProps {
		critical, warning = awssns.NewTopic(stack, jsii.String("Critical"), nil), awssns.NewTopic(stack, jsii.String("Warning"), nil)
		return &fleetapi.FleetApiProps{CriticalAlarmTopic: critical, WarningAlarmTopic: warning}
	})
	for alarm, topic := range map[string]string{"Api-5XXError": "Critical", "ingest-Errors": "Critical", "Api-Latency-p99": "Warning", "Vehicles-SystemErrors": "Warning"} {
		cdktest.Check(t, alarm+" notifies "+topic, func() {
			ref := []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String(topic + ".*"))}}
			tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"AlarmName": assertions.Match_StringLikeRegexp(jsii.String(".*-" + alarm)), "AlarmActions": ref, "OKActions": ref,
			})
		})
	}
}

// mustBuildWith builds a FleetApi in a fresh stack with props that need
// the stack (topics of its own).
func mustBuildWith(t *testing.T, props func(awscdk.Stack) *fleetapi.FleetApiProps) assertions.Template {
	t.Helper()
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Consumer"), nil)
	fleetapi.NewFleetApi(stack, "Fleet", props(stack))
	return assertions.Template_FromStack(stack, nil)
}

// Alarms that notify a topic of the construct's own without a subscriber
// reach no one: the synthesis says so, naming the props; an address or a
// topic of the team's own silences it.
func TestNoAlarmSubscriberWarns(t *testing.T) {
	for _, tt := range []struct {
		name  string
		props func(awscdk.Stack) *fleetapi.FleetApiProps
		warns bool
	}{
		{"defaults", func(awscdk.Stack) *fleetapi.FleetApiProps { return nil }, true},
		{"an address", func(awscdk.Stack) *fleetapi.FleetApiProps {
			return &fleetapi.FleetApiProps{AlarmEmails: jsii.Strings("oncall@example.com")}
		}, false},
		{"a pager's topic", func(s awscdk.Stack) *fleetapi.FleetApiProps {
			return &fleetapi.FleetApiProps{CriticalAlarmTopic: awssns.NewTopic(s, jsii.String("Pager"), nil)}
		}, false},
	} {
		stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Consumer"), nil)
		fleetapi.NewFleetApi(stack, "Fleet", tt.props(stack))
		a := assertions.Annotations_FromStack(stack)
		msg := assertions.Match_StringLikeRegexp(jsii.String("no one is told of the alarms.*AlarmEmails.*" + fleetapi.WarningNoAlarmSubscriber))
		cdktest.Check(t, tt.name, func() {
			if tt.warns {
				a.HasWarning(jsii.String("/Consumer/Fleet"), msg)
			} else {
				a.HasNoWarning(jsii.String("*"), msg)
			}
		})
	}
}
