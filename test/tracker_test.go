package test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// TestTracker checks every stage's tracker: the events table's stream
// mapped to its alias with the stage's batching window, INSERTs only, a
// failed batch split, retried from the record it names and, past its
// retries or age, sent to the tracker's failure queue; the lifecycle rule
// on IoT Core's presence topics into the same alias, its error action to
// the same queue; the figures' schedule; the stage's silentAfter and
// notSeenAfter in the function's environment.
func TestTracker(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		mapping := s.resources[s.idOfPath(t, "Fleet/TrackerStream")].Properties
		for key, want := range map[string]string{
			"FunctionName":                   "map[Ref:" + trackerAliasID + "]",
			"EventSourceArn":                 "map[Fn::GetAtt:[" + eventsTableID + " StreamArn]]",
			"StartingPosition":               "LATEST",
			"MaximumBatchingWindowInSeconds": strconv.Itoa(cfg.StateBatchingWindowSecs),
			"BatchSize":                      "10000",
			"ParallelizationFactor":          "1",
			"BisectBatchOnFunctionError":     "true",
			"MaximumRetryAttempts":           "5",
			"MaximumRecordAgeInSeconds":      "21600",
			"FunctionResponseTypes":          "[ReportBatchItemFailures]",
			"FilterCriteria":                 `map[Filters:[map[Pattern:{"eventName":["INSERT"]}]]]`,
			"DestinationConfig":              "map[OnFailure:map[Destination:map[Fn::GetAtt:[" + trackerQueueID + " Arn]]]]",
		} {
			if got := fmt.Sprint(mapping[key]); got != want {
				t.Errorf("stream mapping %s = %s, want %s", key, got, want)
			}
		}

		fn := s.resources[trackerFunctionID].Properties
		vars := fmt.Sprint(dig(fn, "Environment", "Variables"))
		for _, want := range []string{
			contract.EnvServes + ":" + contract.ServesTracker,
			contract.EnvSilentAfter + ":" + strconv.Itoa(cfg.SilentAfterMinutes*60),
			contract.EnvNotSeenAfter + ":" + strconv.Itoa(cfg.NotSeenAfterDays*86400),
			contract.EnvStateTable + ":map[Ref:" + stateTableID + "]",
		} {
			if !strings.Contains(vars, want) {
				t.Errorf("the tracker's environment %s lacks %s", vars, want)
			}
		}
		// No tracing: X-Ray would record most of its invocations.
		if fn["Timeout"] != 60.0 || fn["TracingConfig"] != nil {
			t.Errorf("the tracker: timeout %v, tracing %v; want 60 s, none", fn["Timeout"], fn["TracingConfig"])
		}

		config := s.resources[s.idOfPath(t, "Fleet/TrackerAsyncInvokeConfig")].Properties
		if config["Qualifier"] != "live" || config["MaximumRetryAttempts"] != 2.0 ||
			getAttTarget(dig(config, "DestinationConfig", "OnFailure", "Destination")) != trackerQueueID {
			t.Errorf("the tracker's asynchronous invocation config %v", config)
		}
		queue := s.resources[trackerQueueID]
		if queue.Properties["SqsManagedSseEnabled"] != true || queue.Properties["MessageRetentionPeriod"] != 1209600.0 {
			t.Errorf("the tracker's failure queue %v, want encrypted, 14 days", queue.Properties)
		}

		schedule := s.resources[s.idOfPath(t, "Fleet/FleetFiguresSchedule/Resource")].Properties
		targets := asList(schedule["Targets"])
		if schedule["ScheduleExpression"] != "rate(5 minutes)" || len(targets) != 1 || resourceName(dig(targets[0], "Arn")) != trackerAliasID ||
			fmt.Sprint(dig(targets[0], "RetryPolicy")) != "map[MaximumEventAgeInSeconds:300 MaximumRetryAttempts:0]" {
			t.Errorf("the figures' schedule %v, want every 5 minutes into the tracker's alias, no retry", schedule)
		}

		if !cfg.MqttUploads {
			return
		}
		ruleID := s.idOfPath(t, "Fleet/LifecycleRule")
		rule := s.resources[ruleID].Properties
		payload := rule["TopicRulePayload"].(map[string]any)
		if rule["RuleName"] != "FleetApi_"+stageName+"_Fleet_Lifecycle" || payload["Sql"] != "SELECT * FROM '$aws/events/presence/+/+'" ||
			payload["AwsIotSqlVersion"] != "2016-03-23" {
			t.Errorf("lifecycle rule %v", rule)
		}
		actions := asList(payload["Actions"])
		if len(actions) != 1 || resourceName(dig(actions[0], "Lambda", "FunctionArn")) != trackerAliasID {
			t.Errorf("lifecycle rule actions %v, want the tracker's alias alone", actions)
		}
		if q := dig(payload, "ErrorAction", "Sqs", "QueueUrl"); fmt.Sprint(q) != "map[Ref:"+trackerQueueID+"]" {
			t.Errorf("lifecycle rule error action %v, want the tracker's failure queue", payload["ErrorAction"])
		}
		if got := strings.Join(statementsOfRole(t, s, getAttTarget(dig(payload, "ErrorAction", "Sqs", "RoleArn"))), "; "); got != "sqs:SendMessage on "+trackerQueueID {
			t.Errorf("the lifecycle rule's role may %s, want sqs:SendMessage on the queue alone", got)
		}
		permitted := false
		for _, perm := range s.resourcesOfType("AWS::Lambda::Permission") {
			if perm.Properties["Principal"] == "iot.amazonaws.com" && resourceName(perm.Properties["FunctionName"]) == trackerAliasID {
				permitted = getAttTarget(perm.Properties["SourceArn"]) == ruleID && fmt.Sprint(perm.Properties["SourceAccount"]) == "map[Ref:AWS::AccountId]"
			}
		}
		if !permitted {
			t.Error("no permission for the lifecycle rule alone, of this account, to invoke the tracker's alias")
		}
	})
}
