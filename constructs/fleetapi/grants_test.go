package fleetapi_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	fleetapiSpec "github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/testutil/cdktest"
)

// GrantInvoke grants execute-api:Invoke on this API's stage, on the named
// operations by method and path (parameters as '*'), or on every
// operation a fleet class may call; the functions serving them are told,
// in their environment, and no others.
func TestGrantInvoke(t *testing.T) {
	tmpl := mustBuild(t, nil, func(stack awscdk.Stack, api *fleetapi.FleetApi) {
		all := awsiam.NewRole(stack, jsii.String("Backend"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
		api.GrantInvoke(all)
		reader := awsiam.NewRole(stack, jsii.String("Reader"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
		api.GrantInvoke(reader, "getEvent", "getVehicle")
		for _, tt := range []struct {
			name    string
			grantee awsiam.IGrantable
			ops     []string
			want    string
		}{
			{"an unknown operation", reader, []string{"deleteVehicle"}, `unknown operation "deleteVehicle": known operations are createEvent, createVehicle`},
			{"an operation of vehicles only", reader, []string{"createEvent"}, "operation createEvent is called by vehicles only, each as itself in the vehicle role"},
			{"an account, not a role or user", awsiam.NewAccountRootPrincipal(), nil, "the grantee must be an IAM role or user"},
			{"a service", awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil), nil, `the grantee must be an IAM role or user, the identity the functions check: got {"Service":["lambda.amazonaws.com"]}`},
			{"an account by its ARN", awsiam.NewArnPrincipal(jsii.String("arn:aws:iam::111122223333:root")), nil, "the grantee must be an IAM role or user"},
		} {
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
						t.Errorf("GrantInvoke of %s: %v, want a panic with %q", tt.name, r, tt.want)
					}
				}()
				api.GrantInvoke(tt.grantee, tt.ops...)
			}()
		}
		// A role of another account, by ARN, is a role.
		api.GrantInvoke(awsiam.Role_FromRoleArn(stack, jsii.String("Partner"), jsii.String("arn:aws:iam::444455556666:role/partner-reader"), nil), "listVehicles")
	})
	arn := func(tail string) map[string]any {
		return map[string]any{"Fn::Join": []any{"", assertions.Match_ArrayWith(&[]any{"/", map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("FleetApiDeploymentStage.*"))}, tail})}}
	}
	// Every operation a fleet class may call, as the spec declares them:
	// the ARN of each by method and path, parameters as '*'.
	spec, err := fleetapiSpec.Load()
	if err != nil {
		t.Fatal(err)
	}
	var every []string
	byFunction := map[string][]string{}
	for _, op := range spec.Operations {
		if slices.ContainsFunc(op.Callers, contract.IsFleetClass) {
			every = append(every, "/"+op.Method+regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(op.Path, "*"))
			byFunction[op.Function] = append(byFunction[op.Function], op.ID)
		}
	}
	slices.Sort(every)
	backend := *tmpl.FindResources(jsii.String("AWS::IAM::Policy"), &map[string]any{"Properties": map[string]any{
		"Roles": []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("Backend.*"))}}}})
	if len(backend) != 1 {
		t.Fatalf("%d policies of the Backend role, want one", len(backend))
	}
	for id, fn := range backend {
		statements := (*fn)["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)
		st := statements[0].(map[string]any)
		// Each ARN is joined from the stage's and a tail: "/METHOD/path".
		var got []string
		for _, r := range st["Resource"].([]any) {
			parts := r.(map[string]any)["Fn::Join"].([]any)[1].([]any)
			got = append(got, fmt.Sprint(parts[len(parts)-1]))
		}
		slices.Sort(got)
		if len(statements) != 1 || st["Action"] != "execute-api:Invoke" || st["Effect"] != "Allow" || !slices.Equal(got, every) {
			t.Errorf("%s: %v, want one Allow of execute-api:Invoke on\n  %s\ngot\n  %s", id, statements, strings.Join(every, "\n  "), strings.Join(got, "\n  "))
		}
	}
	cdktest.Check(t, "named operations", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"Roles": []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("Reader.*"))}},
			"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "execute-api:Invoke", "Effect": "Allow",
				"Resource": []any{arn("/GET/vehicles/*/events/*"), arn("/GET/vehicles/*")},
			}}},
		})
	})
	// What each function is told: the grants of its own operations.
	granted := map[string]string{}
	for _, fn := range *tmpl.FindResources(jsii.String("AWS::Lambda::Function"), nil) {
		props := (*fn)["Properties"].(map[string]any)
		desc := props["Description"].(string)
		value, told := props["Environment"].(map[string]any)["Variables"].(map[string]any)[contract.EnvPrincipals]
		if !told {
			granted[desc[len("FleetApi "):strings.Index(desc, ":")]] = "not told"
			continue
		}
		principals, err := contract.ParsePrincipals(joined(value))
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		granted[desc[len("FleetApi "):strings.Index(desc, ":")]] = fmt.Sprint(principals)
	}
	// Each function is told, of each principal, the operations granted it
	// that the function serves, in the spec's order: the backend every fleet
	// operation, the fleet roles their class's, the reader and the partner
	// those named. Uploads are the vehicles' alone: no grant to be told of.
	named := map[string][]string{
		"arn:aws:iam::111122223333:role/<BackendEC8447F5>":             nil,
		"arn:aws:iam::111122223333:role/<FleetFleetReadRoleA17E67E0>":  nil,
		"arn:aws:iam::111122223333:role/<FleetFleetAdminRoleCF468939>": nil,
		"arn:aws:iam::111122223333:role/<ReaderF7BF189D>":              {"getEvent", "getVehicle"},
		"arn:aws:iam::444455556666:role/partner-reader":                {"listVehicles"},
	}
	for _, fn := range spec.Functions() {
		told := map[string][]string{}
		for _, op := range spec.OperationsOf(fn) {
			for arn, ops := range named {
				switch {
				case strings.Contains(arn, "Backend") && slices.ContainsFunc(op.Callers, contract.IsFleetClass),
					strings.Contains(arn, "FleetRead") && slices.Contains(op.Callers, contract.CallerFleetRead),
					strings.Contains(arn, "FleetAdmin") && slices.Contains(op.Callers, contract.CallerFleetAdmin),
					slices.Contains(ops, op.ID):
					told[arn] = append(told[arn], op.ID)
				}
			}
		}
		want := fmt.Sprint(told)
		if len(told) == 0 {
			want = "not told"
		}
		if granted[fn] != want {
			t.Errorf("%s function is told of\n  %s\nwant\n  %s", fn, granted[fn], want)
		}
	}
}

// joined renders an environment value as the deployed function reads it:
// a role of the stack as arn:aws:iam::111122223333:role/<LOGICAL-ID>.
func joined(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if att, ok := v["Fn::GetAtt"].([]any); ok {
			return fmt.Sprintf("arn:aws:iam::111122223333:role/<%s>", att[0])
		}
		if join, ok := v["Fn::Join"].([]any); ok {
			var b strings.Builder
			for _, part := range join[1].([]any) {
				b.WriteString(joined(part))
			}
			return b.String()
		}
		if ref, ok := v["Ref"].(string); ok {
			return map[string]string{"AWS::Partition": "aws", "AWS::AccountId": "111122223333"}[ref]
		}
	}
	return fmt.Sprintf("%v", v)
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
