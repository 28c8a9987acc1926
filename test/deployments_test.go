package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/api"
)

// TestDeploymentsRollBack holds each stage's functions to what CloudFormation
// and CodeDeploy document for a gradual deploy:
//   - "To perform an AWS CodeDeploy deployment when the version changes on an
//     AWS::Lambda::Alias resource, use the CodeDeployLambdaAliasUpdate update
//     policy" (CloudFormation User Guide, UpdatePolicy attribute): each
//     function has one alias, live, on a published version, with that policy
//     naming the application and the function's deployment group;
//   - the group's DeploymentConfigName is one of CodeDeploy's predefined
//     configurations for Lambda, CodeDeployDefault.Lambda<Name> (CodeDeploy
//     User Guide, "Deployment configurations on an AWS Lambda compute
//     platform"), the stage's lambdaDeployment;
//   - the group rolls back "when a deployment fails", "when a deployment is
//     stopped" and "when alarm thresholds are met" (AutoRollbackConfiguration
//     events DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_REQUEST,
//     DEPLOYMENT_STOP_ON_ALARM) with the function's alarms: its errors and
//     the API's 5XX answers of exactly the operations it serves;
//   - every caller invokes the alias, or the deployment shifts nothing: the
//     API's integrations, the invoke permissions, the upload rule's action
//     and the asynchronous invocation config;
//   - CodeDeploy's service role is the documented one for Lambda
//     (AWSCodeDeployRoleForLambdaLimited) and nothing more.
func TestDeploymentsRollBack(t *testing.T) {
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		appID := onlyID(t, s, "AWS::CodeDeploy::Application")
		if p := s.resources[appID].Properties["ComputePlatform"]; p != "Lambda" {
			t.Errorf("CodeDeploy application: compute platform %v, want Lambda", p)
		}
		wantConfig := "CodeDeployDefault.Lambda" + strings.ToUpper(cfg.LambdaDeployment[:1]) + cfg.LambdaDeployment[1:]
		alarmIDs := map[string]string{} // alarm name → logical ID
		for id, a := range s.resourcesOfType("AWS::CloudWatch::Alarm") {
			alarmIDs[a.Properties["AlarmName"].(string)] = id
		}
		functionIDs := map[string]string{} // function name → logical ID
		for id, fn := range s.apiFunctions() {
			name, _, _ := strings.Cut(strings.TrimPrefix(fmt.Sprint(fn.Properties["Description"]), "FleetApi "), ":")
			functionIDs[name] = id
		}
		aliasOf := map[string]string{} // function logical ID → its alias's
		for id, a := range s.resourcesOfType("AWS::Lambda::Alias") {
			fnID := resourceName(a.Properties["FunctionName"])
			if aliasOf[fnID] != "" {
				t.Errorf("function %s has two aliases", fnID)
			}
			aliasOf[fnID] = id
		}
		groups := s.resourcesOfType("AWS::CodeDeploy::DeploymentGroup")
		if len(groups) != len(spec.Functions())+1 {
			t.Errorf("%d deployment groups, want one per function (%d) and the tracker's", len(groups), len(spec.Functions()))
		}
		// The tracker's: its alias, rolled back on its errors.
		tracker := s.resources[trackerAliasID]
		policy, _ := tracker.UpdatePolicy["CodeDeployLambdaAliasUpdate"].(map[string]any)
		if g := groups[resourceName(policy["DeploymentGroupName"])].Properties; g == nil ||
			fmt.Sprint(asList(dig(g, "AlarmConfiguration", "Alarms"))) != fmt.Sprintf("[map[Name:map[Ref:%s]]]", alarmIDs["FleetApi-"+stageName+"-Fleet-Tracker-Errors"]) ||
			g["DeploymentConfigName"] != wantConfig {
			t.Errorf("the tracker's deployment group %v, want %s rolled back on Tracker-Errors", g, wantConfig)
		}
		var roles []string
		for _, name := range spec.Functions() {
			fnID := functionIDs[name]
			aliasID := aliasOf[fnID]
			if aliasID == "" {
				t.Errorf("function %s has no alias", name)
				continue
			}
			alias := s.resources[aliasID]
			version, _ := dig(alias.Properties, "FunctionVersion", "Fn::GetAtt").([]any)
			if alias.Properties["Name"] != "live" || len(version) != 2 || version[1] != "Version" ||
				s.resources[fmt.Sprint(version[0])].Type != "AWS::Lambda::Version" || resourceName(s.resources[fmt.Sprint(version[0])].Properties["FunctionName"]) != fnID {
				t.Errorf("%s: alias %v, want live on a version of the function", name, alias.Properties)
			}
			policy, _ := alias.UpdatePolicy["CodeDeployLambdaAliasUpdate"].(map[string]any)
			groupID := resourceName(policy["DeploymentGroupName"])
			if resourceName(policy["ApplicationName"]) != appID || groups[groupID].Type == "" {
				t.Errorf("%s: the alias's update policy %v, want the application %s and a deployment group", name, alias.UpdatePolicy, appID)
				continue
			}
			group := groups[groupID].Properties
			if group["DeploymentConfigName"] != wantConfig || resourceName(group["ApplicationName"]) != appID ||
				fmt.Sprint(group["DeploymentStyle"]) != "map[DeploymentOption:WITH_TRAFFIC_CONTROL DeploymentType:BLUE_GREEN]" {
				t.Errorf("%s: deployment group %v, want %s (lambdaDeployment %q) in the application", name, group, wantConfig, cfg.LambdaDeployment)
			}
			events := fmt.Sprint(dig(group, "AutoRollbackConfiguration", "Events"))
			if dig(group, "AutoRollbackConfiguration", "Enabled") != true || events != "[DEPLOYMENT_FAILURE DEPLOYMENT_STOP_ON_REQUEST DEPLOYMENT_STOP_ON_ALARM]" {
				t.Errorf("%s: rollback %v", name, group["AutoRollbackConfiguration"])
			}
			var alarms []string
			for _, a := range asList(dig(group, "AlarmConfiguration", "Alarms")) {
				alarms = append(alarms, resourceName(dig(a, "Name")))
			}
			prefix := "FleetApi-" + stageName + "-Fleet-" + name + "-"
			want := []string{alarmIDs[prefix+"Errors"], alarmIDs[prefix+"Api5XXError"]}
			if cfg.SyntheticVehicle {
				// A vehicle that cannot get through end to end takes back
				// every function's deployment.
				want = append(want, alarmIDs["FleetApi-"+stageName+"-Fleet-SyntheticVehicle-Failures"])
			}
			slices.Sort(alarms)
			slices.Sort(want)
			if dig(group, "AlarmConfiguration", "Enabled") != true || !slices.Equal(alarms, want) || slices.Contains(want, "") {
				t.Errorf("%s: rollback alarms %v, want its errors, its operations' 5XX and the synthetic vehicle's failures %v", name, alarms, want)
			}
			if id := alarmIDs[prefix+"Api5XXError"]; id != "" {
				var ops []string
				for _, op := range spec.OperationsOf(name) {
					ops = append(ops, op.Method+" "+op.Path)
				}
				if got := methodsOfAlarm(s.resources[id], "5XXError"); !slices.Equal(got, sorted(ops)) {
					t.Errorf("%s: %s reads the 5XX of %v, want its operations %v", name, prefix+"Api5XXError", got, sorted(ops))
				}
			}
			roles = append(roles, getAttTarget(group["ServiceRoleArn"]))

			// Every caller invokes the alias.
			for id, perm := range s.resourcesOfType("AWS::Lambda::Permission") {
				if target := resourceName(perm.Properties["FunctionName"]); target == fnID {
					t.Errorf("permission %s is on function %s itself, not its alias", id, name)
				}
			}
		}
		body, _ := json.Marshal(s.resources[onlyID(t, s, "AWS::ApiGateway::RestApi")].Properties["Body"])
		for _, name := range spec.Functions() {
			if strings.Contains(string(body), `"Fn::GetAtt":["`+functionIDs[name]+`","Arn"]`) {
				t.Errorf("the API's integrations invoke function %s itself, not its alias", name)
			}
		}
		if cfg.MqttUploads {
			rule := s.resources[s.idOfPath(t, "Fleet/UploadRule")].Properties
			ingest := functionIDs[spec.Upload().Function]
			if got := resourceName(dig(asList(dig(rule, "TopicRulePayload", "Actions"))[0], "Lambda", "FunctionArn")); got != aliasOf[ingest] {
				t.Errorf("the upload rule invokes %s, want the ingest function's alias %s", got, aliasOf[ingest])
			}
			if q := s.resources[ingestInvokeConfig(t, s)].Properties["Qualifier"]; q != "live" {
				t.Errorf("the asynchronous invocation config is of %v, want the alias live the rule invokes", q)
			}
		}

		slices.Sort(roles)
		if roles = slices.Compact(roles); len(roles) != 1 || roles[0] == "" {
			t.Fatalf("the deployment groups' service roles %v, want one", roles)
		}
		role := s.resources[roles[0]].Properties
		if trust := fmt.Sprint(dig(role, "AssumeRolePolicyDocument", "Statement")); !strings.Contains(trust, "Service:codedeploy.amazonaws.com") {
			t.Errorf("CodeDeploy's role is assumed by %s", trust)
		}
		managed, _ := json.Marshal(role["ManagedPolicyArns"])
		if !strings.Contains(string(managed), ":iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited") || len(asList(role["ManagedPolicyArns"])) != 1 {
			t.Errorf("CodeDeploy's role has the managed policies %s, want AWSCodeDeployRoleForLambdaLimited alone", managed)
		}
		if got := statementsOfRole(t, s, roles[0]); len(got) != 0 {
			t.Errorf("CodeDeploy's role has statements of its own: %v", got)
		}
	})
}

// methodsOfAlarm lists the "METHOD /path" of the API Gateway metrics named
// metric an alarm's metric math reads, sorted.
func methodsOfAlarm(a resource, metric string) []string {
	var out []string
	for _, m := range asList(a.Properties["Metrics"]) {
		stat, _ := dig(m, "MetricStat", "Metric").(map[string]any)
		if stat == nil || stat["MetricName"] != metric || stat["Namespace"] != "AWS/ApiGateway" {
			continue
		}
		dims := map[string]string{}
		for _, d := range asList(stat["Dimensions"]) {
			dims[fmt.Sprint(dig(d, "Name"))] = fmt.Sprint(dig(d, "Value"))
		}
		out = append(out, dims["Method"]+" "+dims["Resource"])
	}
	return sorted(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// ingestInvokeConfig is the logical ID of the ingest function's
// asynchronous invocation configuration.
func ingestInvokeConfig(t *testing.T, s *synthesis) string {
	t.Helper()
	for id, c := range s.resourcesOfType("AWS::Lambda::EventInvokeConfig") {
		if resourceName(c.Properties["FunctionName"]) == ingestFunctionID {
			return id
		}
	}
	t.Fatal("the ingest function has no asynchronous invocation configuration")
	return ""
}
