package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/api"
)

// TestRestApi checks the API of every stage: the imported body holds every
// operation of api/swagger.yaml with its integration, validator and
// security; the stage has the stage table's throttling, logs and tracing;
// each function may be invoked by this API, stage, method and path only.
func TestRestApi(t *testing.T) {
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		apis := s.resourcesOfType("AWS::ApiGateway::RestApi")
		if len(apis) != 1 {
			t.Fatalf("got %d REST APIs, want 1", len(apis))
		}
		var apiID string
		var restApi resource
		for apiID, restApi = range apis {
		}
		if restApi.Properties["Name"] != "FleetApi-"+stageName || fmt.Sprint(restApi.Properties["EndpointConfiguration"]) != "map[Types:[REGIONAL]]" {
			t.Errorf("REST API name %v, endpoint %v", restApi.Properties["Name"], restApi.Properties["EndpointConfiguration"])
		}
		body, _ := restApi.Properties["Body"].(map[string]any)
		if scheme := dig(body, "components", "securitySchemes", "sigv4", "x-amazon-apigateway-authtype"); scheme != "awsSigv4" {
			t.Errorf("sigv4 scheme auth type %v", scheme)
		}
		if v := dig(body, "x-amazon-apigateway-request-validators", "all"); fmt.Sprint(v) != "map[validateRequestBody:true validateRequestParameters:true]" {
			t.Errorf("validator all = %v", v)
		}
		for _, kind := range []string{"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED", "UNAUTHORIZED", "ACCESS_DENIED", "BAD_REQUEST_BODY"} {
			tmpl, _ := dig(body, "x-amazon-apigateway-gateway-responses", kind, "responseTemplates", "application/json").(string)
			if !strings.Contains(tmpl, `{"error":{"code":`) {
				t.Errorf("gateway response %s is not the API's error shape: %q", kind, tmpl)
			}
		}
		// Function name → the logical ID of its alias live, which the API
		// invokes (TestDeploymentsRollBack).
		functions := map[string]string{}
		for id, fn := range s.apiFunctions() {
			name, _, _ := strings.Cut(strings.TrimPrefix(fmt.Sprint(fn.Properties["Description"]), "FleetApi "), ":")
			for aliasID, a := range s.resourcesOfType("AWS::Lambda::Alias") {
				if resourceName(a.Properties["FunctionName"]) == id {
					functions[name] = aliasID
				}
			}
		}
		var opsInBody int
		for path, item := range body["paths"].(map[string]any) {
			opsInBody += len(item.(map[string]any)) - btoi(item.(map[string]any)["parameters"] != nil)
			_ = path
		}
		if opsInBody != len(spec.Operations) {
			t.Errorf("body has %d operations, spec %d", opsInBody, len(spec.Operations))
		}
		for _, op := range spec.Operations {
			o, _ := dig(body, "paths", op.Path, strings.ToLower(op.Method)).(map[string]any)
			if o == nil || o["operationId"] != op.ID {
				t.Errorf("%s %s: missing from the body", op.Method, op.Path)
				continue
			}
			// API Gateway ignores root-level security.
			if fmt.Sprint(o["security"]) != "[map[sigv4:[]]]" {
				t.Errorf("%s: security %v, want sigv4", op.ID, o["security"])
			}
			if o["x-amazon-apigateway-request-validator"] != "all" {
				t.Errorf("%s: validator %v", op.ID, o["x-amazon-apigateway-request-validator"])
			}
			uri, _ := json.Marshal(dig(o, "x-amazon-apigateway-integration", "uri"))
			fnID := functions[op.Function]
			if fnID == "" || !strings.Contains(string(uri), `{"Ref":"`+fnID+`"}`) || !strings.Contains(string(uri), ":lambda:path/2015-03-31/functions/") {
				t.Errorf("%s: integration uri %s, want the invocation ARN of function %s's alias (%s)", op.ID, uri, op.Function, fnID)
			}
			if dig(o, "x-amazon-apigateway-integration", "type") != "aws_proxy" {
				t.Errorf("%s: integration is not aws_proxy", op.ID)
			}
		}

		stages := s.resourcesOfType("AWS::ApiGateway::Stage")
		if len(stages) != 1 {
			t.Fatalf("got %d stages, want 1", len(stages))
		}
		for _, st := range stages {
			p := st.Properties
			if p["StageName"] != stageName || p["TracingEnabled"] != true {
				t.Errorf("stage name %v tracing %v", p["StageName"], p["TracingEnabled"])
			}
			// The stage's traces follow its sampling rule: the share of
			// apiTraceSamplePercent, no reservoir, matched to the stage as
			// the API Gateway Developer Guide names it ({api-name}/{stage-name},
			// AWS::ApiGateway::Stage).
			rule := s.resources[s.idOfPath(t, "Fleet/ApiTraceSampling")].Properties["SamplingRule"].(map[string]any)
			want := map[string]any{"ServiceName": "FleetApi-" + stageName + "/" + stageName, "ServiceType": "AWS::ApiGateway::Stage",
				"FixedRate": stageSettings(t, stageName).ApiTraceSamplePercent / 100, "ReservoirSize": 0.0, "Host": "*", "HTTPMethod": "*",
				"URLPath": "*", "ResourceARN": "*", "RuleName": "FleetApi-" + stageName + "-Fleet-Api", "Version": 1.0}
			for k, v := range want {
				if rule[k] != v {
					t.Errorf("sampling rule %s = %v, want %v", k, rule[k], v)
				}
			}
			settings := fmt.Sprint(p["MethodSettings"])
			for _, want := range []string{
				"DataTraceEnabled:false", "HttpMethod:*", "LoggingLevel:ERROR", "MetricsEnabled:true", "ResourcePath:/*",
				fmt.Sprintf("ThrottlingBurstLimit:%d", cfg.ApiThrottleBurstLimit), fmt.Sprintf("ThrottlingRateLimit:%v", cfg.ApiThrottleRateLimit),
			} {
				if !strings.Contains(settings, want) {
					t.Errorf("method settings %s lack %s", settings, want)
				}
			}
			dest, _ := json.Marshal(dig(p, "AccessLogSetting", "DestinationArn"))
			if !strings.Contains(string(dest), `"Ref":"FleetApiAccessLogs`) || !strings.Contains(fmt.Sprint(dig(p, "AccessLogSetting", "Format")), "$context.requestId") {
				t.Errorf("access log setting %v", p["AccessLogSetting"])
			}
		}
		var execLogs int
		for _, lg := range s.resourcesOfType("AWS::Logs::LogGroup") {
			if lg.Properties["RetentionInDays"] != float64(cfg.LogRetentionDays) {
				t.Errorf("a log group keeps %v days, want %d", lg.Properties["RetentionInDays"], cfg.LogRetentionDays)
			}
			name, _ := json.Marshal(lg.Properties["LogGroupName"])
			if strings.Contains(string(name), "API-Gateway-Execution-Logs_") && strings.Contains(string(name), `"/`+stageName+`"`) {
				execLogs++
			}
		}
		if execLogs != 1 {
			t.Errorf("%d execution log groups named for the stage, want 1", execLogs)
		}

		// One permission per operation, for this API, stage, method and path.
		stageID := onlyID(t, s, "AWS::ApiGateway::Stage")
		deploymentID := resourceName(s.resources[stageID].Properties["DeploymentId"])
		var got []string
		for permID, perm := range s.resourcesOfType("AWS::Lambda::Permission") {
			src, _ := json.Marshal(perm.Properties["SourceArn"])
			fn := resourceName(perm.Properties["FunctionName"])
			if perm.Properties["Principal"] == "iot.amazonaws.com" {
				continue // the upload rule's and the lifecycle rule's: TestMqttUploads, TestTracker
			}
			if perm.Properties["Principal"] == "events.amazonaws.com" && getAttTarget(perm.Properties["SourceArn"]) == s.idOfPath(t, "Fleet/SyntheticVehicleSchedule/Resource") {
				continue // the synthetic vehicle's schedule's: TestSyntheticVehicle
			}
			if perm.Properties["Principal"] == "events.amazonaws.com" && getAttTarget(perm.Properties["SourceArn"]) == s.idOfPath(t, "Fleet/FleetFiguresSchedule/Resource") {
				continue // the figures' schedule's: TestTracker
			}
			if perm.Properties["Principal"] != "apigateway.amazonaws.com" || !strings.Contains(string(src), `{"Ref":"`+apiID+`"}`) {
				t.Errorf("permission for %s: principal %v source %s", fn, perm.Properties["Principal"], src)
			}
			// The tail of the ARN: "/STAGE/METHOD/path", the stage named as
			// the stage resource names it (StageName), not by a Ref: the
			// API's deployment waits for the permissions.
			parts := asList(dig(perm.Properties, "SourceArn", "Fn::Join").([]any)[1])
			tail, scoped := strings.CutPrefix(fmt.Sprint(parts[len(parts)-1]), "/"+stageName+"/")
			if !scoped || s.resources[stageID].Properties["StageName"] != stageName {
				t.Errorf("permission for %s is not scoped to the stage %s: %s", fn, stageName, src)
			}
			got = append(got, fn+" /"+tail)
			if !slices.Contains(dependsOn(s.resources[deploymentID]), permID) {
				t.Errorf("the API's deployment does not wait for permission %s: a deploy could serve an integration before it may invoke", permID)
			}
		}
		var want []string
		for _, op := range spec.Operations {
			path := op.Path
			for _, p := range []string{"{vid}", "{eid}"} {
				path = strings.ReplaceAll(path, p, "*")
			}
			want = append(want, functions[op.Function]+" /"+op.Method+path)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("invoke permissions\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	})
}

// TestOutputs: the stage's URL, and what callers and vehicle registration
// need: the caller classes' roles, the role alias and the certificates' IoT
// policy (where the stage gives vehicles credentials).
func TestOutputs(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		var doc struct {
			Outputs map[string]struct{ Value any }
		}
		if err := json.Unmarshal(s.template, &doc); err != nil {
			t.Fatal(err)
		}
		v, _ := json.Marshal(doc.Outputs["ApiUrl"].Value)
		if !strings.Contains(string(v), `"https://"`) || !strings.Contains(string(v), ".execute-api.") {
			t.Errorf("ApiUrl %s, want the stage URL", v)
		}
		want := map[string]string{
			"VehicleRoleArn":    `{"Fn::GetAtt":["` + s.idOfPath(t, "Fleet/VehicleRole/Resource") + `","Arn"]}`,
			"FleetReadRoleArn":  `{"Fn::GetAtt":["` + s.idOfPath(t, "Fleet/FleetReadRole/Resource") + `","Arn"]}`,
			"FleetAdminRoleArn": `{"Fn::GetAtt":["` + s.idOfPath(t, "Fleet/FleetAdminRole/Resource") + `","Arn"]}`,
			// What fleetapi.FleetApiAttributes takes to import the API.
			"RestApiId":            `{"Ref":"` + onlyID(t, s, "AWS::ApiGateway::RestApi") + `"}`,
			"RestApiName":          `"FleetApi-` + stageName + `"`,
			"StageName":            `{"Ref":"` + onlyID(t, s, "AWS::ApiGateway::Stage") + `"}`,
			"VehiclesFunctionName": `{"Ref":"` + s.idOfPath(t, "Fleet/VehiclesFunction/Resource") + `"}`,
			"EventsFunctionName":   `{"Ref":"` + s.idOfPath(t, "Fleet/EventsFunction/Resource") + `"}`,
			"IngestFunctionName":   `{"Ref":"` + s.idOfPath(t, "Fleet/IngestFunction/Resource") + `"}`,
			// Names that Budgets gives, and that carry the Region.
			"BudgetName":    `{"Ref":"` + onlyID(t, s, "AWS::Budgets::Budget") + `"}`,
			"DashboardName": `{"Ref":"` + onlyID(t, s, "AWS::CloudWatch::Dashboard") + `"}`,
		}
		if stageSettings(t, stageName).MqttUploads {
			rule := s.resources[s.idOfPath(t, "Fleet/UploadRule")].Properties["RuleName"].(string)
			want["UploadTopic"] = `"$aws/rules/` + rule + `/vehicles/${VID}/events"`
			want["UploadFailureQueueUrl"] = `{"Ref":"` + s.idOfPath(t, "Fleet/UploadFailures/Resource") + `"}`
		}
		if stageSettings(t, stageName).History {
			want["HistoryBucket"] = `{"Ref":"` + s.idOfPath(t, "Fleet/HistoryBucket/Resource") + `"}`
			want["HistoryDatabase"] = `"fleetapi_` + stageName + `_fleet"`
			want["HistoryTable"] = `"samples"`
			want["HistoryWorkGroup"] = `{"Ref":"` + s.idOfPath(t, "Fleet/HistoryWorkGroup") + `"}`
			want["HistoryFailureQueueUrl"] = `{"Ref":"` + s.idOfPath(t, "Fleet/HistoryFailures/Resource") + `"}`
		}
		if stageSettings(t, stageName).VehicleCredentials {
			want["VehicleRoleAlias"] = `{"Ref":"` + onlyID(t, s, "AWS::IoT::RoleAlias") + `"}`
			want["VehicleCertificatePolicy"] = `{"Ref":"` + onlyID(t, s, "AWS::IoT::Policy") + `"}`
		}
		for name, w := range want {
			if got, _ := json.Marshal(doc.Outputs[name].Value); string(got) != w {
				t.Errorf("output %s = %s, want %s", name, got, w)
			}
		}
		if len(doc.Outputs) != len(want)+1 {
			t.Errorf("%d outputs, want %d: %v", len(doc.Outputs), len(want)+1, doc.Outputs)
		}
	})
}

// dig walks nested JSON objects by key.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestEveryStageLogsWithARoleOfItsOwn: `cdk deploy --context stage=NAME`
// works in a fresh account for every stage, and stages of one account
// never break each other's logging, as CloudFormation and API Gateway
// document it:
//   - a stage that logs needs the account's CloudWatch role ("CloudWatch
//     Logs role ARN must be set in account settings to enable logging";
//     API Gateway Developer Guide, "Set up CloudWatch logging for REST
//     APIs in API Gateway": the role's ARN is an account setting);
//   - "The AWS::ApiGateway::Account resource specifies the IAM role that
//     Amazon API Gateway uses to write API logs to Amazon CloudWatch
//     Logs"; so each stage's own sets it as it deploys, and the setting
//     names the role of the stage deployed last. CloudFormation's page
//     warns that one overwrites another ("To avoid overwriting other
//     roles, you should only have one ... per region per account"): here
//     every role is the same (trusted by apigateway.amazonaws.com, the
//     managed policy AWS documents for it), so the overwrite changes
//     nothing but which of them is used;
//   - "When you delete a stack containing this resource, API Gateway can
//     still assume the provided IAM role" (the same page), and every role
//     and Account resource is retained (DeletionPolicy and
//     UpdateReplacePolicy Retain: "CloudFormation keeps the resource
//     without deleting the resource or its contents when its stack is
//     deleted", CloudFormation User Guide, "DeletionPolicy attribute"):
//     deleting a stage leaves the role the setting names.
func TestEveryStageLogsWithARoleOfItsOwn(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		logs := false
		for _, st := range s.resourcesOfType("AWS::ApiGateway::Stage") {
			logs = logs || strings.Contains(fmt.Sprint(st.Properties["MethodSettings"]), "LoggingLevel:ERROR")
		}
		if !logs {
			t.Fatal("the stage writes no execution logs: this test has nothing to prove")
		}
		accounts := s.resourcesOfType("AWS::ApiGateway::Account")
		if len(accounts) != 1 {
			t.Fatalf("%d AWS::ApiGateway::Account, want the stage's own", len(accounts))
		}
		for id, acct := range accounts {
			if acct.DeletionPolicy != "Retain" || acct.UpdateReplace != "Retain" {
				t.Errorf("%s: deletion %q, replace %q: want both Retain", id, acct.DeletionPolicy, acct.UpdateReplace)
			}
			roleID, _ := dig(acct.Properties, "CloudWatchRoleArn", "Fn::GetAtt").([]any)
			if len(roleID) != 2 {
				t.Fatalf("%s: CloudWatchRoleArn %v, want a role of the stack", id, acct.Properties["CloudWatchRoleArn"])
			}
			role := s.resources[roleID[0].(string)]
			if role.DeletionPolicy != "Retain" || role.UpdateReplace != "Retain" {
				t.Errorf("%s: deletion %q, replace %q: want both Retain", roleID[0], role.DeletionPolicy, role.UpdateReplace)
			}
			trust := fmt.Sprint(role.Properties["AssumeRolePolicyDocument"])
			managed := fmt.Sprint(role.Properties["ManagedPolicyArns"])
			if !strings.Contains(trust, "Service:apigateway.amazonaws.com") || !strings.Contains(managed, "service-role/AmazonAPIGatewayPushToCloudWatchLogs") {
				t.Errorf("%s: trust %s, policies %s: want API Gateway's, with AmazonAPIGatewayPushToCloudWatchLogs", roleID[0], trust, managed)
			}
		}
	})
}

// dependsOn lists a resource's DependsOn.
func dependsOn(r resource) []string {
	var out []string
	for _, d := range asList(r.DependsOn) {
		if s, ok := d.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
