package test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// TestMqttUploads checks the MQTT upload path of every stage that has it,
// as AWS IoT Core and Lambda read it: the rule on the Basic Ingest topics
// ("Reducing messaging costs with Basic Ingest": the rule named in the
// topic, the FROM filter matched against the topic after the prefix) with
// the SQL the ingest function decodes (contract.UploadRuleSQL), invoking
// the ingest function, which only this rule of this account may invoke for
// IoT Core (the Lambda action's documented resource policy); failures of
// the asynchronous invocation and of the action itself into one queue,
// encrypted and TLS-only; a certificate policy that lets a thing connect
// only as itself and publish only to its own upload topic.
func TestMqttUploads(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		if !stageSettings(t, stageName).MqttUploads {
			t.Skip("no MQTT uploads in this stage")
		}
		ruleID := s.idOfPath(t, "Fleet/UploadRule")
		queueID := s.idOfPath(t, "Fleet/UploadFailures/Resource")
		rule := s.resources[ruleID].Properties
		name := rule["RuleName"].(string)
		if want := "FleetApi_" + stageName + "_Fleet_Uploads"; name != want {
			t.Errorf("rule name %q, want %q (letters, digits and _ only)", name, want)
		}
		payload := rule["TopicRulePayload"].(map[string]any)
		if payload["Sql"] != contract.UploadRuleSQL || payload["AwsIotSqlVersion"] != "2016-03-23" || payload["RuleDisabled"] != false {
			t.Errorf("rule payload %v", payload)
		}
		actions := asList(payload["Actions"])
		if len(actions) != 1 || resourceName(dig(actions[0], "Lambda", "FunctionArn")) != ingestAliasID {
			t.Errorf("actions %v, want the ingest function's alias alone", actions)
		}
		if q := dig(payload, "ErrorAction", "Sqs", "QueueUrl"); fmt.Sprint(q) != "map[Ref:"+queueID+"]" {
			t.Errorf("error action %v, want the failure queue", payload["ErrorAction"])
		}
		ruleRole := getAttTarget(dig(payload, "ErrorAction", "Sqs", "RoleArn"))
		if got := strings.Join(statementsOfRole(t, s, ruleRole), "; "); got != "sqs:SendMessage on "+queueID {
			t.Errorf("the rule's role may %s, want sqs:SendMessage on the queue alone", got)
		}
		if p := fmt.Sprint(dig(s.resources[ruleRole].Properties, "AssumeRolePolicyDocument", "Statement")); !strings.Contains(p, "iot.amazonaws.com") {
			t.Errorf("the rule's role is assumed by %s", p)
		}

		var iotPermissions int
		for _, perm := range s.resourcesOfType("AWS::Lambda::Permission") {
			if perm.Properties["Principal"] != "iot.amazonaws.com" || resourceName(perm.Properties["FunctionName"]) == trackerAliasID {
				continue // the lifecycle rule's: TestTracker
			}
			iotPermissions++
			if resourceName(perm.Properties["FunctionName"]) != ingestAliasID || getAttTarget(perm.Properties["SourceArn"]) != ruleID ||
				fmt.Sprint(perm.Properties["SourceAccount"]) != "map[Ref:AWS::AccountId]" {
				t.Errorf("IoT permission %v, want the ingest function's alias for the rule's ARN and this account", perm.Properties)
			}
		}
		if iotPermissions != 1 {
			t.Errorf("%d permissions for iot.amazonaws.com, want 1", iotPermissions)
		}

		config := s.resources[ingestInvokeConfig(t, s)].Properties
		if fmt.Sprint(config["FunctionName"]) != "map[Ref:"+ingestFunctionID+"]" || config["Qualifier"] != "live" ||
			getAttTarget(dig(config, "DestinationConfig", "OnFailure", "Destination")) != queueID ||
			config["MaximumRetryAttempts"] != 2.0 || config["MaximumEventAgeInSeconds"] != 21600.0 {
			t.Errorf("asynchronous invocation config %v", config)
		}
		queue := s.resources[queueID]
		deletion := map[string]string{"retain": "Retain", "destroy": "Delete"}[stageSettings(t, stageName).RemovalPolicy]
		if queue.Properties["SqsManagedSseEnabled"] != true || queue.Properties["MessageRetentionPeriod"] != 1209600.0 || queue.DeletionPolicy != deletion {
			t.Errorf("failure queue %v (deletion %s), want encrypted, 14 days, deletion %s as the stage's tables", queue.Properties, queue.DeletionPolicy, deletion)
		}
		tls, _ := json.Marshal(s.resources[s.idOfPath(t, "Fleet/UploadFailures/Policy/Resource")].Properties)
		if !strings.Contains(string(tls), `"aws:SecureTransport":"false"`) || !strings.Contains(string(tls), `"Effect":"Deny"`) {
			t.Errorf("queue policy %s, want TLS only", tls)
		}

		// The certificate policy: connect as its own thing, publish to its
		// own topic of this rule; nothing to subscribe or receive.
		policy, _ := json.Marshal(s.resources[onlyID(t, s, "AWS::IoT::Policy")].Properties["PolicyDocument"])
		for _, want := range []string{
			`"Action":"iot:Connect","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`,
			`":client/${iot:Connection.Thing.ThingName}"`,
			`":topic/$aws/rules/` + name + `/vehicles/${iot:Connection.Thing.ThingName}/events"`,
		} {
			if !strings.Contains(string(policy), want) {
				t.Errorf("certificate policy %s lacks %s", policy, want)
			}
		}
		for _, never := range []string{"iot:Subscribe", "iot:Receive", "iot:*", "topic/*", "client/*"} {
			if strings.Contains(string(policy), never) {
				t.Errorf("certificate policy %s grants %s", policy, never)
			}
		}
		if s.template != nil && !strings.Contains(string(s.template), `"$aws/rules/`+name+`/vehicles/${VID}/events"`) {
			t.Error("no stack output names the upload topic")
		}
	})
}

// TestUploadAlarmsReadDocumentedDimensions: the upload rule's alarms read
// AWS/IoT's rule metrics by their one documented dimension, RuleName; its
// action metrics (Failure, ErrorActionFailure) also carry ActionType,
// whose values no AWS page states, so they are summed by a Metrics
// Insights query over every action type of the rule (AWS IoT Core
// Developer Guide, "AWS IoT metrics and dimensions": rule metrics have
// RuleName, rule action metrics RuleName and ActionType; CloudWatch User
// Guide, "Create a CloudWatch alarm based on a Metrics Insights query": the
// query must return a single time series, here one SUM with no GROUP BY).
// The function's asynchronous-invocation metrics are Lambda's, by
// FunctionName (Lambda Developer Guide, "Types of metrics for Lambda
// functions": DestinationDeliveryFailures, AsyncEventsDropped).
func TestUploadAlarmsReadDocumentedDimensions(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		if !stageSettings(t, stageName).MqttUploads {
			t.Skip("no MQTT uploads")
		}
		rule := "FleetApi_" + stageName + "_Fleet_Uploads"
		checked := 0
		for _, a := range s.resourcesOfType("AWS::CloudWatch::Alarm") {
			p := a.Properties
			name, _ := p["AlarmName"].(string)
			if !strings.Contains(name, "-Uploads-Rule") {
				continue
			}
			checked++
			if p["Namespace"] == "AWS/IoT" {
				if dims := fmt.Sprint(p["Dimensions"]); dims != "[map[Name:RuleName Value:"+rule+"]]" {
					t.Errorf("%s: dimensions %s, want RuleName alone", name, dims)
				}
				continue
			}
			queries := asList(p["Metrics"])
			if len(queries) != 1 {
				t.Errorf("%s: %d metrics, want one Metrics Insights query", name, len(queries))
				continue
			}
			q, _ := dig(queries[0], "Expression").(string)
			metric := strings.TrimPrefix(strings.TrimPrefix(name, "FleetApi-"+stageName+"-Fleet-Uploads-Rule"), "")
			want := map[string]string{"Failures": "Failure", "ErrorActionFailures": "ErrorActionFailure"}[metric]
			if q != `SELECT SUM(`+want+`) FROM SCHEMA("AWS/IoT", ActionType, RuleName) WHERE RuleName = '`+rule+`'` {
				t.Errorf("%s: query %q", name, q)
			}
			if strings.Contains(q, "GROUP BY") || dig(queries[0], "ReturnData") != true {
				t.Errorf("%s: the query must return one time series", name)
			}
		}
		if checked != 3 {
			t.Errorf("%d alarms of the upload rule, want 3 (failures, error action failures, throttled)", checked)
		}
		for _, a := range s.resourcesOfType("AWS::CloudWatch::Alarm") {
			p := a.Properties
			if name, _ := p["MetricName"].(string); name == "AsyncEventsDropped" || name == "DestinationDeliveryFailures" {
				if p["Namespace"] != "AWS/Lambda" || !strings.Contains(fmt.Sprint(p["Dimensions"]), "FunctionName") || !strings.Contains(fmt.Sprint(p["Dimensions"]), "FleetIngestFunction") {
					t.Errorf("%s: %v %v, want AWS/Lambda by the ingest function's name", name, p["Namespace"], p["Dimensions"])
				}
			}
		}
	})
}
