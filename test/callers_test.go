package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/local/iampolicy"
)

// The deployed account and Region the template's intrinsics are read in.
const (
	testAccount = "111122223333"
	testRegion  = "eu-west-1"
	testApiID   = "a1b2c3d4e5"
)

// resolve renders a template value as CloudFormation would in the test
// account: pseudo parameters, a role's or role alias's ARN (Fn::GetAtt),
// a bucket's ARN, the REST API's ID and a stage's name (Ref), Fn::Join.
func (s *synthesis) resolve(t *testing.T, v any) any {
	t.Helper()
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = s.resolve(t, e)
		}
		return out
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok && len(v) == 1 {
			switch ref {
			case "AWS::Partition":
				return "aws"
			case "AWS::Region":
				return testRegion
			case "AWS::AccountId":
				return testAccount
			}
			switch r := s.resources[ref]; r.Type {
			case "AWS::ApiGateway::RestApi":
				return testApiID
			case "AWS::ApiGateway::Stage":
				return r.Properties["StageName"]
			case "AWS::IoT::RoleAlias":
				return ref // CloudFormation names it; the test calls it by its logical ID
			case "AWS::IAM::Role":
				return ref
			}
			t.Fatalf("cannot resolve Ref %s", ref)
		}
		if att, ok := v["Fn::GetAtt"].([]any); ok && len(v) == 1 {
			id, attr := att[0].(string), att[1].(string)
			switch r := s.resources[id]; {
			case r.Type == "AWS::IAM::Role" && attr == "Arn":
				return roleArn(id)
			case r.Type == "AWS::IoT::RoleAlias" && attr == "RoleAliasArn":
				return "arn:aws:iot:" + testRegion + ":" + testAccount + ":rolealias/" + id
			case r.Type == "AWS::S3::Bucket" && attr == "Arn":
				return "arn:aws:s3:::" + strings.ToLower(id) // CloudFormation names it
			}
			t.Fatalf("cannot resolve Fn::GetAtt %s.%s", id, attr)
		}
		if join, ok := v["Fn::Join"].([]any); ok && len(v) == 1 {
			var parts []string
			for _, p := range s.resolve(t, join[1]).([]any) {
				parts = append(parts, p.(string))
			}
			return strings.Join(parts, join[0].(string))
		}
		out := map[string]any{}
		for k, e := range v {
			out[k] = s.resolve(t, e)
		}
		return out
	}
	return v
}

// The role of logical ID id, and a session of it.
func roleArn(id string) string { return "arn:aws:iam::" + testAccount + ":role/" + id }
func sessionOf(id, session string) string {
	return "arn:aws:sts::" + testAccount + ":assumed-role/" + id + "/" + session
}

// policyOf parses a policy document of the template, resolved.
func (s *synthesis) policyOf(t *testing.T, doc any) iampolicy.Document {
	t.Helper()
	b, _ := json.Marshal(s.resolve(t, doc))
	d, err := iampolicy.Parse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return d
}

// identityPolicies returns the inline policies attached to a role.
func (s *synthesis) identityPolicies(t *testing.T, roleID string) []iampolicy.Document {
	t.Helper()
	var out []iampolicy.Document
	for _, p := range s.resourcesOfType("AWS::IAM::Policy") {
		roles, _ := json.Marshal(p.Properties["Roles"])
		if strings.Contains(string(roles), `"`+roleID+`"`) {
			out = append(out, s.policyOf(t, p.Properties["PolicyDocument"]))
		}
	}
	return out
}

// executeApiArn is the resource API Gateway authorizes a call against
// (API Gateway Developer Guide, "Control access for invoking an API":
// arn:aws:execute-api:region:account-id:api-id/stage/METHOD/resource-path).
func executeApiArn(stage, method, path string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", testRegion, testAccount, testApiID, stage, method, path)
}

// pathOf is an operation's path with its parameters given values.
func pathOf(op api.Operation, vid string) string {
	return strings.NewReplacer("{vid}", vid, "{eid}", "1764144000000-3f2a9c1b7d4e5a60").Replace(op.Path)
}

// TestGatewayEnforcesCallerClasses evaluates each stage's synthesized
// policies as IAM would (package iampolicy, whose tests are AWS's own
// documented examples): for a session of the vehicle role acting for
// vehicle A (session tag vid = A), of the fleet-read role and of the
// fleet-admin role, execute-api:Invoke on every operation of A and of B.
// Allowed are exactly the spec's caller classes, a vehicle on A alone.
//
// This is the gateway's layer. AWS documents aws:PrincipalTag as a policy
// variable of identity-based policies ("IAM policy elements: Variables and
// tags") and API Gateway's IAM authorization as IAM's evaluation of the
// caller's policies against that resource; no AWS page shows this variable
// in an execute-api resource, which is why the functions check again
// (internal/runtime/authz).
func TestGatewayEnforcesCallerClasses(t *testing.T) {
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		type caller struct {
			class, arn string
			policies   []iampolicy.Document
			context    map[string][]string
		}
		vehicleRole := s.idOfPath(t, "Fleet/VehicleRole/Resource")
		callers := []caller{{"vehicle", sessionOf(vehicleRole, "car-A"), s.identityPolicies(t, vehicleRole), map[string][]string{"aws:PrincipalTag/vid": {"car-A"}}}}
		for _, c := range []struct{ class, path string }{{"fleet-read", "Fleet/FleetReadRole/Resource"}, {"fleet-admin", "Fleet/FleetAdminRole/Resource"}} {
			id := s.idOfPath(t, c.path)
			callers = append(callers, caller{c.class, sessionOf(id, "backend"), s.identityPolicies(t, id), nil})
		}
		var matrix []string
		for _, op := range spec.Operations {
			row := fmt.Sprintf("%-13s", op.ID)
			for _, c := range callers {
				for _, target := range []string{"car-A", "car-B"} {
					req := iampolicy.Request{Principal: c.arn, Action: "execute-api:Invoke", Resource: executeApiArn(stageName, op.Method, pathOf(op, target)), Context: c.context}
					got := iampolicy.Evaluate(req, c.policies, nil)
					want := iampolicy.ImplicitDeny
					if slices.Contains(op.Callers, c.class) && (c.class != "vehicle" || target == "car-A") {
						want = iampolicy.Allow
					}
					// The fleet roles are also denied outright what their
					// patterns reach beyond their class.
					if got == iampolicy.ExplicitDeny && want != iampolicy.Allow {
						want = got
					}
					if got != want {
						t.Errorf("%s on %s %s (%s): %v, want %v", c.class, op.ID, target, req.Resource, got, want)
					}
					row += fmt.Sprintf(" %s/%s:%-5s", c.class, target[len(target)-1:], verdict(got))
				}
			}
			matrix = append(matrix, row)
		}
		// Tricks on the vid, as the resource API Gateway would authorize.
		v := callers[0]
		for _, path := range []string{"/vehicles/CAR-A/events", "/vehicles/car-A2/events", "/vehicles/car-/events", "/vehicles/car-A%2Fx/events"} {
			req := iampolicy.Request{Principal: v.arn, Action: "execute-api:Invoke", Resource: executeApiArn(stageName, "POST", path), Context: v.context}
			if got := iampolicy.Evaluate(req, v.policies, nil); got == iampolicy.Allow {
				t.Errorf("vehicle car-A may POST %s", path)
			}
		}
		// Without the tag (a session of the role not started as a vehicle)
		// the vehicle role reaches no vehicle.
		for _, op := range spec.Operations {
			req := iampolicy.Request{Principal: v.arn, Action: "execute-api:Invoke", Resource: executeApiArn(stageName, op.Method, pathOf(op, "car-A"))}
			if got := iampolicy.Evaluate(req, v.policies, nil); got == iampolicy.Allow {
				t.Errorf("an untagged vehicle session may call %s", op.ID)
			}
		}
		t.Logf("execute-api:Invoke, %s:\n%s", stageName, strings.Join(matrix, "\n"))
	})
}

func verdict(d iampolicy.Decision) string {
	switch d {
	case iampolicy.Allow:
		return "allow"
	case iampolicy.ExplicitDeny:
		return "DENY"
	}
	return "deny"
}

// TestVehicleEntersOnlyAsItself evaluates how a vehicle gets its identity,
// as each stage's template has it: the AWS IoT Core credentials provider
// (credentials.iot.amazonaws.com) assumes the certificate role for a
// certificate, adding the thing name to the credentials' context as
// credentials-iot:ThingName when the request names the thing attached to
// the certificate (AWS IoT Core Developer Guide, "Authorizing direct calls
// to AWS services using AWS IoT Core credential provider": the variable
// works "for IAM policies only"); that session may start a session of
// the vehicle role only with its thing name as session name and as the
// one tag vid, under both its own policy and the vehicle role's trust
// policy (role trust policies must allow the caller themselves). The
// certificate's IoT policy allows iot:AssumeRoleWithCertificate on the
// role alias alone.
func TestVehicleEntersOnlyAsItself(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		if !stageSettings(t, stageName).VehicleCredentials {
			t.Skip("the stage gives vehicles no credentials of their own")
		}
		vehicleRole := s.idOfPath(t, "Fleet/VehicleRole/Resource")
		certRole := s.idOfPath(t, "Fleet/VehicleCertificateRole/Resource")
		trust := s.policyOf(t, s.resources[vehicleRole].Properties["AssumeRolePolicyDocument"])
		certTrust := s.policyOf(t, s.resources[certRole].Properties["AssumeRolePolicyDocument"])
		cert := sessionOf(certRole, "3f2a9c1b7d4e5a60b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4")
		thingA := map[string][]string{"credentials-iot:ThingName": {"car-A"}}
		with := func(base map[string][]string, kv ...string) map[string][]string {
			out := map[string][]string{}
			for k, v := range base {
				out[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				out[kv[i]] = strings.Split(kv[i+1], ",")
			}
			return out
		}
		for _, tt := range []struct {
			name   string
			caller string
			action string
			ctx    map[string][]string
			want   iampolicy.Decision
		}{
			{"as itself", cert, "sts:AssumeRole", with(thingA, "sts:RoleSessionName", "car-A", "aws:RequestTag/vid", "car-A"), iampolicy.Allow},
			{"its tag", cert, "sts:TagSession", with(thingA, "aws:RequestTag/vid", "car-A", "aws:TagKeys", "vid"), iampolicy.Allow},
			{"as another vehicle", cert, "sts:AssumeRole", with(thingA, "sts:RoleSessionName", "car-B", "aws:RequestTag/vid", "car-B"), iampolicy.ImplicitDeny},
			{"its own name, another's tag", cert, "sts:AssumeRole", with(thingA, "sts:RoleSessionName", "car-A", "aws:RequestTag/vid", "car-B"), iampolicy.ImplicitDeny},
			{"another's name, its own tag", cert, "sts:AssumeRole", with(thingA, "sts:RoleSessionName", "car-B", "aws:RequestTag/vid", "car-A"), iampolicy.ImplicitDeny},
			{"without the tag", cert, "sts:AssumeRole", with(thingA, "sts:RoleSessionName", "car-A"), iampolicy.ImplicitDeny},
			{"another's tag", cert, "sts:TagSession", with(thingA, "aws:RequestTag/vid", "car-B", "aws:TagKeys", "vid"), iampolicy.ImplicitDeny},
			{"a tag more", cert, "sts:TagSession", with(thingA, "aws:RequestTag/vid", "car-A", "aws:TagKeys", "vid,fleet"), iampolicy.ImplicitDeny},
			{"no thing named (no x-amzn-iot-thingname)", cert, "sts:AssumeRole", with(nil, "sts:RoleSessionName", "car-A", "aws:RequestTag/vid", "car-A"), iampolicy.ImplicitDeny},
			{"the fleet admin", sessionOf(s.idOfPath(t, "Fleet/FleetAdminRole/Resource"), "x"), "sts:AssumeRole", with(thingA, "sts:RoleSessionName", "car-A", "aws:RequestTag/vid", "car-A"), iampolicy.ImplicitDeny},
		} {
			req := iampolicy.Request{Principal: tt.caller, Action: tt.action, Resource: roleArn(vehicleRole), Context: tt.ctx}
			if got := iampolicy.EvaluateAssumeRole(req, s.identityPolicies(t, principalRole(tt.caller)), trust); got != tt.want {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			}
		}
		// Who may enter is the trust's to say (aws:PrincipalArn, a key IAM
		// documents in every request): another role of the account with
		// sts:* of its own is refused. Which thing is the certificate
		// role's own policy's (its documented variables): the trust names
		// the account, so both must allow, and the trust alone does not
		// hold that line, which the certificate role's policy does above.
		broad := []iampolicy.Document{iampolicy.MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:*","Resource":"*"}]}`)}
		admin := sessionOf(s.idOfPath(t, "Fleet/FleetAdminRole/Resource"), "x")
		for _, action := range []string{"sts:AssumeRole", "sts:TagSession"} {
			req := iampolicy.Request{Principal: admin, Action: action, Resource: roleArn(vehicleRole), Context: with(thingA, "sts:RoleSessionName", "car-A", "aws:RequestTag/vid", "car-A", "aws:TagKeys", "vid")}
			if got := iampolicy.EvaluateAssumeRole(req, broad, trust); got == iampolicy.Allow {
				t.Errorf("another role of the account with sts:* of its own: %s allowed", action)
			}
		}
		for _, st := range trust.Statement {
			if strings.Contains(fmt.Sprint(st.Condition), "credentials-iot") {
				t.Errorf("the vehicle role's trust policy conditions on %v: the credentials provider's variables are documented in the policies of the role it assumes only", st.Condition)
			}
		}
		for _, tt := range []struct {
			service string
			want    iampolicy.Decision
		}{{"credentials.iot.amazonaws.com", iampolicy.Allow}, {"iot.amazonaws.com", iampolicy.ImplicitDeny}, {"lambda.amazonaws.com", iampolicy.ImplicitDeny}} {
			req := iampolicy.Request{Service: tt.service, Action: "sts:AssumeRole", Resource: roleArn(certRole)}
			if got := iampolicy.EvaluateAssumeRole(req, nil, certTrust); got != tt.want {
				t.Errorf("%s assumes the certificate role: %v, want %v", tt.service, got, tt.want)
			}
		}
		alias := onlyID(t, s, "AWS::IoT::RoleAlias")
		iotPolicy := s.policyOf(t, s.resources[onlyID(t, s, "AWS::IoT::Policy")].Properties["PolicyDocument"])
		for resource, want := range map[string]iampolicy.Decision{
			"arn:aws:iot:" + testRegion + ":" + testAccount + ":rolealias/" + alias:   iampolicy.Allow,
			"arn:aws:iot:" + testRegion + ":" + testAccount + ":rolealias/other":      iampolicy.ImplicitDeny,
			"arn:aws:iot:" + testRegion + ":" + testAccount + ":topic/vehicles/car-B": iampolicy.ImplicitDeny,
		} {
			req := iampolicy.Request{Principal: "certificate", Action: "iot:AssumeRoleWithCertificate", Resource: resource}
			if got := iampolicy.Evaluate(req, []iampolicy.Document{iotPolicy}, nil); got != want {
				t.Errorf("the certificate's IoT policy on %s: %v, want %v", resource, got, want)
			}
		}
		for _, action := range []string{"iot:Connect", "iot:Publish"} {
			req := iampolicy.Request{Principal: "certificate", Action: action, Resource: "arn:aws:iot:" + testRegion + ":" + testAccount + ":client/car-A"}
			if got := iampolicy.Evaluate(req, []iampolicy.Document{iotPolicy}, nil); got == iampolicy.Allow {
				t.Errorf("the certificate's IoT policy allows %s", action)
			}
		}
	})
}

// principalRole is the logical ID of the role a session ARN is of.
func principalRole(sessionArn string) string {
	rest := sessionArn[strings.Index(sessionArn, "assumed-role/")+len("assumed-role/"):]
	return rest[:strings.Index(rest, "/")]
}
