package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/runtime/synthetic"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// TestSyntheticVehicle holds every stage's synthetic vehicle to what the
// services document:
//   - its private key is in no template: the secret has neither
//     SecretString nor GenerateSecretString ("If you omit both ... you
//     create an empty secret", AWS::SecretsManager::Secret), and the
//     custom resource that fills it names it by ARN only;
//   - the custom resource waits for its provider's permissions
//     (CloudFormation invokes the provider as soon as it exists);
//   - the function runs on "rate(1 minute)" ("If the value is equal to 1,
//     then the unit must be singular", EventBridge schedule expressions),
//     without retries, and ends within the minute (runs never overlap: two
//     MQTT connections with one client ID drop each other);
//   - its vid is reserved, a thing name and an STS session name (at most
//     64 characters of the vid pattern);
//   - the alarm reads the metric the function writes: the namespace, name
//     and dimensions of its embedded metric format lines (synthetic.Log)
//     are the alarm's, Minimum below 1 over a period, and a period without
//     a run breaches (TreatMissingData breaching);
//   - the API's functions let its role call getEvent, and only that.
func TestSyntheticVehicle(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		if !stageSettings(t, stageName).SyntheticVehicle {
			t.Skip("no synthetic vehicle in this stage")
		}
		vid := "fleetapi-synthetic-FleetApi-" + stageName + "-Fleet"
		if !contract.IsSyntheticVID(vid) || len(vid) > 64 || !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$`).MatchString(vid) {
			t.Fatalf("vid %s is no reserved vid, thing name and session name", vid)
		}
		if strings.Contains(string(s.template), "PRIVATE KEY") {
			t.Error("the template holds a private key")
		}
		secretID := s.idOfPath(t, "Fleet/SyntheticVehicleSecret")
		secret := s.resources[secretID]
		if secret.Type != "AWS::SecretsManager::Secret" || secret.Properties["SecretString"] != nil || secret.Properties["GenerateSecretString"] != nil {
			t.Errorf("the synthetic vehicle's secret %v, want an empty one", secret.Properties)
		}

		resources := s.resourcesOfType("Custom::FleetApiSyntheticVehicle")
		if len(resources) != 1 {
			t.Fatalf("%d synthetic vehicle custom resources, want 1", len(resources))
		}
		var resourceID string
		var custom resource
		for resourceID, custom = range resources {
		}
		p := custom.Properties
		if getAttTarget(p["ServiceToken"]) != syntheticProviderID || p["Vid"] != vid || resourceName(p["SecretArn"]) != secretID ||
			resourceName(p["PolicyName"]) != onlyID(t, s, "AWS::IoT::Policy") {
			t.Errorf("custom resource %v", p)
		}
		providerPolicy := s.idOfPath(t, "Fleet/SyntheticVehicleProviderRole/DefaultPolicy/Resource")
		if !slices.Contains(dependsOn(custom), providerPolicy) {
			t.Errorf("the custom resource depends on %v, not on its provider's permissions %s", custom.DependsOn, providerPolicy)
		}
		provider := s.resources[syntheticProviderID].Properties
		if env := dig(provider, "Environment", "Variables").(map[string]any); env[contract.EnvServes] != contract.ServesSyntheticVehicleProvider {
			t.Errorf("provider environment %v", env)
		}

		fn := s.resources[syntheticFunctionID].Properties
		env := dig(fn, "Environment", "Variables").(map[string]any)
		attr := func(name string) string {
			att, _ := dig(env[name], "Fn::GetAtt").([]any)
			if len(att) != 2 || att[0] != resourceID {
				return ""
			}
			return fmt.Sprint(att[1])
		}
		rule := s.resources[s.idOfPath(t, "Fleet/UploadRule")].Properties["RuleName"].(string)
		if env[contract.EnvServes] != contract.ServesSyntheticVehicle || env[contract.EnvSyntheticVID] != vid || resourceName(env[contract.EnvSyntheticSecret]) != secretID ||
			attr(contract.EnvCredentialsEndpoint) != synthetic.AttrCredentialsEndpoint || attr(contract.EnvDataEndpoint) != synthetic.AttrDataEndpoint ||
			resourceName(env[contract.EnvRoleAlias]) != onlyID(t, s, "AWS::IoT::RoleAlias") || getAttTarget(env[contract.EnvVehicleRole]) != s.idOfPath(t, "Fleet/VehicleRole/Resource") ||
			env[contract.EnvUploadTopic] != contract.BasicIngestTopic(rule, vid) || !strings.Contains(fmt.Sprint(env[contract.EnvAPIURL]), "execute-api") {
			t.Errorf("synthetic vehicle environment %v", env)
		}
		if timeout := fn["Timeout"].(float64); timeout >= 60 {
			t.Errorf("timeout %v s: a run could outlast the minute", timeout)
		}

		schedule := s.resources[s.idOfPath(t, "Fleet/SyntheticVehicleSchedule/Resource")].Properties
		targets := asList(schedule["Targets"])
		if schedule["ScheduleExpression"] != "rate(1 minute)" || len(targets) != 1 || getAttTarget(dig(targets[0], "Arn")) != syntheticFunctionID ||
			dig(targets[0], "RetryPolicy", "MaximumRetryAttempts") != 0.0 {
			t.Errorf("schedule %v", schedule)
		}
		var async resource
		for _, c := range s.resourcesOfType("AWS::Lambda::EventInvokeConfig") {
			if resourceName(c.Properties["FunctionName"]) == syntheticFunctionID {
				async = c
			}
		}
		if async.Properties["MaximumRetryAttempts"] != 0.0 || async.Properties["MaximumEventAgeInSeconds"] != 60.0 {
			t.Errorf("asynchronous invocations %v, want no retry, a minute at most", async.Properties)
		}

		// The alarm reads what the function writes.
		var buf bytes.Buffer
		synthetic.Log(slog.New(slog.NewJSONHandler(&buf, nil)), vid, time.Now(), synthetic.Report{{Step: metrics.StepRun, OK: true}})
		var line struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name string }
				}
			} `json:"_aws"`
		}
		var values map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil || json.Unmarshal(buf.Bytes(), &values) != nil || len(line.AWS.CloudWatchMetrics) != 1 {
			t.Fatalf("log line %s: %v", buf.Bytes(), err)
		}
		written := line.AWS.CloudWatchMetrics[0]
		var alarm resource
		for _, a := range s.resourcesOfType("AWS::CloudWatch::Alarm") {
			if a.Properties["AlarmName"] == "FleetApi-"+stageName+"-Fleet-SyntheticVehicle-Failures" {
				alarm = a
			}
		}
		a := alarm.Properties
		// One metric, written as one (Namespace, MetricName, Dimensions,
		// Statistic) or as the one query of Metrics.
		if m := asList(a["Metrics"]); len(m) == 1 && m[0] != nil {
			stat, _ := dig(m[0], "MetricStat").(map[string]any)
			metric, _ := stat["Metric"].(map[string]any)
			a = maps.Clone(a)
			a["Namespace"], a["MetricName"], a["Dimensions"], a["Statistic"] = metric["Namespace"], metric["MetricName"], metric["Dimensions"], stat["Stat"]
		}
		dims := map[string]any{}
		for _, d := range asList(a["Dimensions"]) {
			dims[fmt.Sprint(dig(d, "Name"))] = dig(d, "Value")
		}
		var writtenDims []string
		for _, d := range written.Dimensions[0] {
			writtenDims = append(writtenDims, d)
			if dims[d] != values[d] {
				t.Errorf("alarm dimension %s = %v, the function writes %v", d, dims[d], values[d])
			}
		}
		if a["Namespace"] != written.Namespace || a["MetricName"] != metrics.SyntheticVehicleSuccess || !slices.Contains(metricNames(written.Metrics), metrics.SyntheticVehicleSuccess) ||
			len(dims) != len(writtenDims) || a["Statistic"] != "Minimum" || a["ComparisonOperator"] != "LessThanThreshold" || a["Threshold"] != 1.0 ||
			a["TreatMissingData"] != "breaching" || !strings.HasSuffix(fmt.Sprint(a["AlarmDescription"]), "(critical)") {
			t.Errorf("alarm %v, want Minimum of %s %v below 1, missing data breaching, critical", a, metrics.SyntheticVehicleSuccess, writtenDims)
		}

		// Its role may read events, and the events function lets it.
		events := dig(s.resources[eventsFunctionID].Properties, "Environment", "Variables").(map[string]any)[contract.EnvPrincipals]
		principals, _ := json.Marshal(events)
		role := getAttTarget(fn["Role"])
		if !strings.Contains(string(principals), `{"Fn::GetAtt":["`+role+`","Arn"]},"=getEvent`) {
			t.Errorf("the events function's principals %s, want the synthetic vehicle's role granted getEvent alone", principals)
		}
	})
}

func metricNames(ms []struct{ Name string }) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}
