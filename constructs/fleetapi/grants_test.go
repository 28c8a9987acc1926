package fleetapi_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/cdktest"
)

// GrantInvoke grants execute-api:Invoke on this API's stage: every
// operation, or the named ones by method and path (parameters as '*').
func TestGrantInvoke(t *testing.T) {
	tmpl := mustBuild(t, nil, func(stack awscdk.Stack, api *fleetapi.FleetApi) {
		all := awsiam.NewRole(stack, jsii.String("Backend"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
		api.GrantInvoke(all)
		gateway := awsiam.NewRole(stack, jsii.String("Gateway"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
		api.GrantInvoke(gateway, "createEvent", "getVehicle")
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(error).Error(), `unknown operation "deleteVehicle": known operations are createEvent, createVehicle`) {
				t.Errorf("GrantInvoke of an unknown operation: %v", r)
			}
		}()
		api.GrantInvoke(gateway, "deleteVehicle")
	})
	arn := func(tail string) map[string]any {
		return map[string]any{"Fn::Join": []any{"", assertions.Match_ArrayWith(&[]any{"/", map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("FleetApiDeploymentStage.*"))}, tail})}}
	}
	cdktest.Check(t, "every operation", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"Roles": []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("Backend.*"))}},
			"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn("/*/*"),
			}}},
		})
	})
	cdktest.Check(t, "named operations", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"Roles": []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("Gateway.*"))}},
			"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "execute-api:Invoke", "Effect": "Allow",
				"Resource": []any{arn("/POST/vehicles/*/events"), arn("/GET/vehicles/*")},
			}}},
		})
	})
}

// An unknown operation is a panic naming the known ones, not a nil function.
func TestFunctionOfAnUnknownOperation(t *testing.T) {
	mustBuild(t, nil, func(_ awscdk.Stack, api *fleetapi.FleetApi) {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(error).Error(), `unknown operation "getVehicles"`) {
				t.Errorf("FunctionOf a typo: %v", r)
			}
		}()
		api.FunctionOf("getVehicles")
	})
}

// The Metric* methods give other teams the metrics of the API, its
// functions and its tables for their own alarms.
func TestMetricsOfTheApi(t *testing.T) {
	mustBuild(t, nil, func(stack awscdk.Stack, api *fleetapi.FleetApi) {
		for name, m := range map[string]awscloudwatch.IMetric{
			"uploads": api.MetricUploads(nil), "function errors": api.MetricFunctionErrors(nil),
			"function throttles": api.MetricFunctionThrottles(nil), "table throttles": api.MetricTableThrottledRequests(nil),
		} {
			awscloudwatch.NewAlarm(stack, jsii.String(strings.ReplaceAll(name, " ", "")), &awscloudwatch.AlarmProps{
				Metric: m, Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
			})
		}
	})
}
