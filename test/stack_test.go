package test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/app/fleetstack"
	"github.com/fleetapi/fleetapi/internal/app/stage"
	"github.com/fleetapi/fleetapi/internal/testutil/cdktest"
)

func TestStackSettings(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		if got, want := *s.stack.StackName(), "FleetApi-"+stageName; got != want {
			t.Errorf("stack name = %s, want %s", got, want)
		}
		if got := *s.stack.TerminationProtection(); got != cfg.DeletionProtection {
			t.Errorf("termination protection = %v, want %v (deletionProtection)", got, cfg.DeletionProtection)
		}
	})
}

func TestTables(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		tables := s.resourcesOfType("AWS::DynamoDB::Table")
		if len(tables) != 3 {
			t.Fatalf("got %d tables, want 3", len(tables))
		}
		wantPolicy := map[string]string{"retain": "Retain", "destroy": "Delete"}[cfg.RemovalPolicy]
		keysByTable := map[string]string{}
		for id, r := range tables {
			keysByTable[id] = keySchema(t, r.Properties)
			if r.DeletionPolicy != wantPolicy || r.UpdateReplace != wantPolicy {
				t.Errorf("%s: DeletionPolicy/UpdateReplacePolicy = %s/%s, want %s", id, r.DeletionPolicy, r.UpdateReplace, wantPolicy)
			}
			if _, named := r.Properties["TableName"]; named {
				t.Errorf("%s: TableName is set; CloudFormation must generate it so that stacks never collide", id)
			}
		}
		// The logical IDs are a contract: a changed one replaces the table.
		want := map[string]string{
			vehiclesTableID: "vid:HASH",
			eventsTableID:   "vid:HASH,eid:RANGE",
			stateTableID:    "vid:HASH",
		}
		for id, keys := range want {
			if keysByTable[id] != keys {
				t.Errorf("table %s: key schema %q, want %q (tables: %v)", id, keysByTable[id], keys, keysByTable)
			}
		}

		tmpl := assertions.Template_FromJSON(templateMap(t, s), nil)
		common := map[string]any{
			"BillingMode":                      "PAY_PER_REQUEST",
			"SSESpecification":                 map[string]any{"SSEEnabled": true},
			"DeletionProtectionEnabled":        cfg.DeletionProtection,
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": cfg.PointInTimeRecovery},
		}
		cdktest.Check(t, "every table", func() {
			tmpl.AllResourcesProperties(jsii.String("AWS::DynamoDB::Table"), assertions.Match_ObjectLike(&common))
		})
		// The events table's class is the stage's; Standard is DynamoDB's
		// default, left unset. The vehicles table is always Standard.
		if class := tables[eventsTableID].Properties["TableClass"]; cfg.EventsTableClass == "standardInfrequentAccess" && class != "STANDARD_INFREQUENT_ACCESS" ||
			cfg.EventsTableClass == "standard" && class != nil {
			t.Errorf("events table: TableClass %v for the stage's %q", class, cfg.EventsTableClass)
		}
		for _, id := range []string{vehiclesTableID, stateTableID} {
			if class, set := tables[id].Properties["TableClass"]; set {
				t.Errorf("table %s: TableClass %v, want it unset (Standard)", id, class)
			}
		}
		// The events table's stream, the tracker's source: the new item of
		// each put (an upload stored), nothing of the old.
		if spec := fmt.Sprint(tables[eventsTableID].Properties["StreamSpecification"]); spec != "map[StreamViewType:NEW_IMAGE]" {
			t.Errorf("events table: stream %s, want NEW_IMAGE", spec)
		}
		for _, id := range []string{vehiclesTableID, stateTableID} {
			if spec, set := tables[id].Properties["StreamSpecification"]; set {
				t.Errorf("table %s: stream %v, want none", id, spec)
			}
		}
		cdktest.Check(t, "events TTL", func() {
			tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
				"TimeToLiveSpecification": map[string]any{"AttributeName": "expiresAt", "Enabled": true},
				"KeySchema": []any{
					map[string]any{"AttributeName": "vid", "KeyType": "HASH"},
					map[string]any{"AttributeName": "eid", "KeyType": "RANGE"},
				},
			})
		})
	})
}

func keySchema(t *testing.T, props map[string]any) string {
	t.Helper()
	var keys []struct{ AttributeName, KeyType string }
	b, _ := json.Marshal(props["KeySchema"])
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatalf("KeySchema %s: %v", b, err)
	}
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += ","
		}
		out += k.AttributeName + ":" + k.KeyType
	}
	return out
}

func templateMap(t *testing.T, s *synthesis) *map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(s.template, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// A stage that names an account and Region gets an environment-bound
// stack: deployable only with credentials of that account, in that Region;
// a stage that names a topic of its own gets no topic of the stack.
func TestEnvironmentBoundStage(t *testing.T) {
	cfg := stageConfig(t, stageNames[0])
	cfg.Account, cfg.Region = "123456789012", "eu-central-1"
	cfg.AlarmTopicArn = "arn:aws:sns:eu-central-1:123456789012:oncall"
	stack, err := fleetstack.New(awscdk.NewApp(nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if *stack.Account() != cfg.Account || *stack.Region() != cfg.Region {
		t.Errorf("stack environment %s/%s, want %s/%s", *stack.Account(), *stack.Region(), cfg.Account, cfg.Region)
	}
	tmpl := assertions.Template_FromStack(stack, nil)
	tmpl.ResourceCountIs(jsii.String("AWS::SNS::Topic"), jsii.Number(0))
	tmpl.AllResourcesProperties(jsii.String("AWS::CloudWatch::CompositeAlarm"), map[string]any{"AlarmActions": []any{cfg.AlarmTopicArn}})
	// The windows of the burn-rate alarms notify through their composite alarm.
	for id, r := range *tmpl.FindResources(jsii.String("AWS::CloudWatch::Alarm"), nil) {
		p, _ := (*r)["Properties"].(map[string]any)
		window := burnRateWindow.MatchString(fmt.Sprint(p["AlarmName"])) && strings.Contains(fmt.Sprint(p["AlarmName"]), "-BurnRate-")
		if got := fmt.Sprint(p["AlarmActions"]); window && p["AlarmActions"] != nil || !window && got != "["+cfg.AlarmTopicArn+"]" {
			t.Errorf("%s: alarm actions %s", id, got)
		}
	}
	tmpl.HasResourceProperties(jsii.String("AWS::Budgets::Budget"), map[string]any{
		"NotificationsWithSubscribers": assertions.Match_ArrayWith(&[]any{map[string]any{
			"Notification": assertions.Match_ObjectLike(&map[string]any{"NotificationType": "ACTUAL"}),
			"Subscribers":  []any{map[string]any{"SubscriptionType": "SNS", "Address": cfg.AlarmTopicArn}},
		}}),
	})
}

// A stage whose alarms notify no one synthesizes, with a warning that
// names the settings to set (and, for a stage that requires a subscriber,
// that deploying it is refused); the construct's own warning, naming its
// props, is acknowledged. With an address there is no warning.
func TestStageWithoutAlarmSubscriberWarns(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageConfig(t, stageName)
		var warnings []string
		for _, a := range s.annotations {
			if a.Level == "aws:cdk:warning" && (strings.Contains(a.Text, "alarm") || strings.Contains(a.Text, "Alarm")) {
				warnings = append(warnings, a.Text)
			}
		}
		want := fmt.Sprintf("stage %q: no one is told of its alarms and its budget: set alarmEmails (each address must confirm the subscription SNS mails it) or alarmTopicArn in cdk.json", stageName)
		if cfg.RequireAlarmSubscriber {
			want += " (requireAlarmSubscriber: make deploy and make preflight refuse it)"
		}
		if len(warnings) != 1 || !strings.HasPrefix(warnings[0], want) {
			t.Errorf("warnings %q, want one: %s", warnings, want)
		}
	})
	cfg := stageConfig(t, stageNames[0])
	cfg.Props.AlarmEmails = jsii.Strings("oncall@example.com")
	stack, err := fleetstack.New(awscdk.NewApp(nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertions.Annotations_FromStack(stack).HasNoWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*(told|AlarmEmails).*")))
}

// Dashboard and budget names are unique in an account, across Regions: one
// stage deployed to two Regions of an account names its dashboards apart,
// and its budgets are named by Budgets.
func TestOneStageInTwoRegions(t *testing.T) {
	names := map[string]string{}
	for _, region := range []string{"eu-west-1", "us-east-1"} {
		cfg := stageConfig(t, stageNames[0])
		cfg.Account, cfg.Region = "123456789012", region
		stack, err := fleetstack.New(awscdk.NewApp(nil), cfg)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := assertions.Template_FromStack(stack, nil)
		for _, r := range *tmpl.FindResources(jsii.String("AWS::CloudWatch::Dashboard"), nil) {
			names[region] = fmt.Sprint((*r)["Properties"].(map[string]any)["DashboardName"])
		}
		tmpl.HasResourceProperties(jsii.String("AWS::Budgets::Budget"), map[string]any{"Budget": assertions.Match_ObjectLike(&map[string]any{"BudgetName": assertions.Match_Absent()})})
	}
	if names["eu-west-1"] == names["us-east-1"] || !strings.HasSuffix(names["eu-west-1"], "-eu-west-1") {
		t.Errorf("dashboard names %v, want the Region in each", names)
	}
}

// TestPinnedRegionMissingATypeFailsTheSynthesis: a stage pinned to a
// Region where a resource type of its template does not exist fails the
// synthesis, naming the type and the Region: the CDK checks the template
// against CloudFormation's Region schemas, an error with cdk.json's
// @aws-cdk/core:validateAgainstDefaultRules (a warning without it). IoT
// Core's role alias, for one, is not in ap-southeast-4 (docs/deploying.md
// lists where each type is missing); eu-west-1 has every type.
func TestPinnedRegionMissingATypeFailsTheSynthesis(t *testing.T) {
	if cdkContext["@aws-cdk/core:validateAgainstDefaultRules"] != true {
		t.Fatal("cdk.json no longer turns the CDK's Region check into an error")
	}
	synth := func(region string) (err error) {
		outdir := t.TempDir()
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v: %s", r, strings.Join(readValidationReport(filepath.Join(outdir, "validation-report.json")), "; "))
			}
		}()
		raw, _ := json.Marshal(cdkContext)
		var ctx map[string]any
		json.Unmarshal(raw, &ctx)
		prod := ctx[stage.ContextKeyStages].(map[string]any)["prod"].(map[string]any)
		prod["account"], prod["region"] = testAccount, region
		ctx[stage.ContextKeyStage] = "prod"
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir)})
		if _, err := fleetstack.FromContext(app); err != nil {
			return err
		}
		app.Synth(nil)
		return nil
	}
	err := synth("ap-southeast-4")
	if err == nil || !strings.Contains(err.Error(), "AWS::IoT::RoleAlias") || !strings.Contains(err.Error(), "ap-southeast-4") {
		t.Errorf("prod pinned to ap-southeast-4: %v, want an error naming AWS::IoT::RoleAlias there", err)
	}
	if err := synth("eu-west-1"); err != nil {
		t.Errorf("prod pinned to eu-west-1: %v", err)
	}
}
