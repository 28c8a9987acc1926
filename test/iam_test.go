package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestLeastPrivilege checks every function role of every stage (the
// synthetic vehicle's too) against the
// permissions written out here: DynamoDB actions only on the tables the
// function's operations touch, the cursor key only for functions that list,
// writing to its own log group only, tracing, and no managed policy.
func TestLeastPrivilege(t *testing.T) {
	const (
		vehicles  = vehiclesTableID
		events    = eventsTableID
		state     = stateTableID
		cursorKey = cursorKeyID
	)
	want := map[string][]string{ // function logical ID → "actions on resource"
		vehiclesFunctionID: {
			"dynamodb:GetItem,dynamodb:PutItem,dynamodb:Scan,dynamodb:UpdateItem on " + vehicles,
			"dynamodb:GetItem,dynamodb:Scan on " + state,
			"logs:CreateLogStream,logs:PutLogEvents on " + vehiclesLogsID,
			"secretsmanager:DescribeSecret,secretsmanager:GetSecretValue on " + cursorKey,
			"xray:PutTelemetryRecords,xray:PutTraceSegments on *",
		},
		eventsFunctionID: {
			"dynamodb:GetItem,dynamodb:Query on " + events,
			"logs:CreateLogStream,logs:PutLogEvents on " + eventsLogsID,
			"secretsmanager:DescribeSecret,secretsmanager:GetSecretValue on " + cursorKey,
			"xray:PutTelemetryRecords,xray:PutTraceSegments on *",
		},
		ingestFunctionID: {
			"dynamodb:GetItem on " + vehicles,
			"dynamodb:GetItem,dynamodb:PutItem on " + events,
			"logs:CreateLogStream,logs:PutLogEvents on " + ingestLogsID,
			"xray:PutTelemetryRecords,xray:PutTraceSegments on *",
		},
	}
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		want := maps.Clone(want)
		if stageSettings(t, stageName).MqttUploads {
			// The failure destination of its asynchronous invocations.
			want[ingestFunctionID] = slices.Sorted(slices.Values(append(slices.Clone(want[ingestFunctionID]), "sqs:SendMessage on "+s.idOfPath(t, "Fleet/UploadFailures/Resource"))))
		}
		if stageSettings(t, stageName).SyntheticVehicle {
			// The synthetic vehicle reads its own events as a fleet reader
			// (getEvent only) and its secret; its custom resource makes its
			// certificate, thing and registration (docs/security.md).
			secret := s.idOfPath(t, "Fleet/SyntheticVehicleSecret")
			arn := func(service, resource string) string {
				return `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":` + service + `:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":` + resource + `"]]}`
			}
			getEvent := `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":execute-api:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":",` +
				`{"Ref":"FleetApi9DCC32B9"},"/",{"Ref":"` + onlyID(t, s, "AWS::ApiGateway::Stage") + `"},"/GET/vehicles/*/events/*"]]}`
			want[syntheticFunctionID] = []string{
				"execute-api:Invoke on " + getEvent,
				"logs:CreateLogStream,logs:PutLogEvents on " + s.idOfPath(t, "Fleet/SyntheticVehicleLogs/Resource"),
				"secretsmanager:GetSecretValue on " + secret,
				"xray:PutTelemetryRecords,xray:PutTraceSegments on *",
			}
			want[syntheticProviderID] = []string{
				"dynamodb:GetItem,dynamodb:PutItem on " + vehicles,
				"iot:AttachPolicy,iot:DeleteCertificate,iot:DescribeCertificate,iot:DetachPolicy,iot:UpdateCertificate on " + arn("iot", "cert/*"),
				"iot:AttachThingPrincipal,iot:CreateCertificateFromCsr,iot:DescribeEndpoint,iot:DetachThingPrincipal,xray:PutTelemetryRecords,xray:PutTraceSegments on *",
				"iot:CreateThing,iot:DeleteThing,iot:ListThingPrincipals on " + arn("iot", "thing/fleetapi-synthetic-FleetApi-"+stageName+"-Fleet"),
				"logs:CreateLogStream,logs:PutLogEvents on " + s.idOfPath(t, "Fleet/SyntheticVehicleProviderLogs/Resource"),
				"secretsmanager:PutSecretValue on " + secret,
			}
		}
		// The tracker: its state read and put whole, the fleet scanned; a
		// vehicle's registration read; the events' stream; its failure queue.
		want[trackerFunctionID] = []string{
			`dynamodb:DescribeStream,dynamodb:GetRecords,dynamodb:GetShardIterator,dynamodb:ListStreams on {"Fn::Join":["",[{"Fn::GetAtt":["` + events + `","Arn"]},"/stream/*"]]}`,
			"dynamodb:GetItem on " + vehicles,
			"dynamodb:GetItem,dynamodb:PutItem,dynamodb:Scan on " + state,
			"logs:CreateLogStream,logs:PutLogEvents on " + s.idOfPath(t, "Fleet/TrackerLogs/Resource"),
			"sqs:SendMessage on " + trackerQueueID,
		}
		// The history writer: the events' stream, its objects under the
		// table's prefix, its failure queue; no table.
		bucket := s.idOfPath(t, "Fleet/HistoryBucket/Resource")
		want[s.idOfPath(t, "Fleet/HistoryWriterFunction/Resource")] = []string{
			`dynamodb:DescribeStream,dynamodb:GetRecords,dynamodb:GetShardIterator,dynamodb:ListStreams on {"Fn::Join":["",[{"Fn::GetAtt":["` + events + `","Arn"]},"/stream/*"]]}`,
			"logs:CreateLogStream,logs:PutLogEvents on " + s.idOfPath(t, "Fleet/HistoryWriterLogs/Resource"),
			`s3:PutObject on {"Fn::Join":["",[{"Fn::GetAtt":["` + bucket + `","Arn"]},"/samples/*"]]}`,
			"sqs:SendMessage on " + s.idOfPath(t, "Fleet/HistoryFailures/Resource"),
		}
		fns := s.resourcesOfType("AWS::Lambda::Function")
		if len(fns) != len(want) {
			t.Fatalf("got %d functions, want %d", len(fns), len(want))
		}
		for fnID, wantStatements := range want {
			fn, ok := fns[fnID]
			if !ok {
				t.Errorf("function %s is missing (logical IDs are a contract)", fnID)
				continue
			}
			roleID := getAttTarget(fn.Properties["Role"])
			role := s.resources[roleID]
			if managed, ok := role.Properties["ManagedPolicyArns"]; ok {
				t.Errorf("%s: managed policies %v, want none", fnID, managed)
			}
			if role.Type != "AWS::IAM::Role" {
				t.Fatalf("%s: role %s not found", fnID, roleID)
			}
			got := statementsOfRole(t, s, roleID)
			slices.Sort(got)
			if !slices.Equal(got, wantStatements) {
				t.Errorf("%s: statements\n  %s\nwant\n  %s", fnID, strings.Join(got, "\n  "), strings.Join(wantStatements, "\n  "))
			}
		}
	})
}

// statementsOfRole renders the Allow statements of the inline policies
// attached to a role as "action,action on resource".
func statementsOfRole(t *testing.T, s *synthesis, roleID string) []string {
	t.Helper()
	var out []string
	for id, p := range s.resourcesOfType("AWS::IAM::Policy") {
		roles, _ := json.Marshal(p.Properties["Roles"])
		if !strings.Contains(string(roles), `"`+roleID+`"`) {
			continue
		}
		var doc struct {
			Statement []struct {
				Effect   string
				Action   any
				Resource any
			}
		}
		b, _ := json.Marshal(p.Properties["PolicyDocument"])
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("policy %s: %v", id, err)
		}
		for _, st := range doc.Statement {
			if st.Effect != "Allow" {
				t.Errorf("policy %s: unexpected %s statement", id, st.Effect)
			}
			actions := strings.Join(asStrings(st.Action), ",")
			for _, r := range asList(st.Resource) {
				out = append(out, actions+" on "+resourceName(r))
			}
		}
	}
	return out
}

func asStrings(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, fmt.Sprint(x))
	}
	slices.Sort(out)
	return out
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// resourceName names a policy resource: "*", or the logical ID it refers to.
func resourceName(r any) string {
	switch r := r.(type) {
	case string:
		return r
	case map[string]any:
		if ref, ok := r["Ref"].(string); ok {
			return ref
		}
		if id := getAttTarget(r); id != "" {
			return id
		}
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// getAttTarget returns X of {"Fn::GetAtt": [X, "Arn"]}.
func getAttTarget(v any) string {
	m, _ := v.(map[string]any)
	att, _ := m["Fn::GetAtt"].([]any)
	if len(att) == 2 && att[1] == "Arn" {
		s, _ := att[0].(string)
		return s
	}
	return ""
}

// An event handed to a function says who the caller is (the proxy event's
// requestContext.identity.userArn, the upload rule's clientId): whoever may
// invoke a function directly may act as any vehicle. The template lets no
// principal of its own do so: no policy of it allows lambda:InvokeFunction
// (nor lambda:* or *), and each function's resource policy names the
// service that may invoke it for one source: this API (its stage, method
// and path), the upload rule, the synthetic vehicle's schedule. Roles
// outside the stack (an account administrator) are docs/security.md's.
func TestNoCallerMayInvokeAFunction(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		for id, p := range s.resourcesOfType("AWS::IAM::Policy") {
			doc, _ := json.Marshal(p.Properties["PolicyDocument"])
			for _, action := range []string{`"lambda:InvokeFunction"`, `"lambda:*"`, `"lambda:Invoke*"`, `"Action":"*"`} {
				if strings.Contains(string(doc), action) {
					t.Errorf("policy %s allows %s", id, action)
				}
			}
		}
		sources := map[string][]string{
			"apigateway.amazonaws.com": {`{"Ref":"FleetApi9DCC32B9"}`},
			"iot.amazonaws.com":        {s.idOfPath(t, "Fleet/UploadRule"), s.idOfPath(t, "Fleet/LifecycleRule")},
			"events.amazonaws.com":     {s.idOfPath(t, "Fleet/SyntheticVehicleSchedule/Resource"), s.idOfPath(t, "Fleet/FleetFiguresSchedule/Resource")},
		}
		for id, perm := range s.resourcesOfType("AWS::Lambda::Permission") {
			principal, _ := perm.Properties["Principal"].(string)
			src, _ := json.Marshal(perm.Properties["SourceArn"])
			allowed := slices.ContainsFunc(sources[principal], func(want string) bool { return strings.Contains(string(src), want) })
			if !allowed || perm.Properties["Action"] != "lambda:InvokeFunction" {
				t.Errorf("permission %s: %s may %v from %s", id, principal, perm.Properties["Action"], src)
			}
		}
	})
}
