package fleetapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	fleetapiSpec "github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/testutil/cdktest"
)

// With VehicleCredentials, the construct creates what the AWS IoT Core
// credentials provider needs (Developer Guide, "Authorizing direct calls to
// AWS services using AWS IoT Core credential provider"): a role trusted by
// credentials.iot.amazonaws.com, a role alias pointing at it with the
// credential duration, and an IoT policy allowing
// iot:AssumeRoleWithCertificate on that alias only. The certificate role
// may enter the vehicle role only as its own thing.
func TestVehicleCredentials(t *testing.T) {
	tmpl := mustBuild(t, &fleetapi.FleetApiProps{VehicleCredentials: jsii.Bool(true), VehicleCredentialDuration: awscdk.Duration_Minutes(jsii.Number(30))}, nil)
	thing := "${credentials-iot:ThingName}"
	certRole := assertions.Match_StringLikeRegexp(jsii.String("^FleetVehicleCertificateRole"))
	cdktest.Check(t, "the certificate role, trusted by the credentials provider", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "credentials.iot.amazonaws.com"},
			}}},
		})
	})
	cdktest.Check(t, "the role alias, 30 minutes", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IoT::RoleAlias"), map[string]any{
			"RoleArn": map[string]any{"Fn::GetAtt": []any{certRole, "Arn"}}, "CredentialDurationSeconds": 1800,
		})
	})
	cdktest.Check(t, "the certificates' IoT policy: that alias, nothing else", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IoT::Policy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "iot:AssumeRoleWithCertificate", "Effect": "Allow",
				"Resource": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^FleetVehicleRoleAlias")), "RoleAliasArn"}},
			}}, "Version": "2012-10-17"},
		})
	})
	own := map[string]any{"StringEquals": map[string]any{"sts:RoleSessionName": thing, "aws:RequestTag/vid": thing}}
	tag := map[string]any{"StringEquals": map[string]any{"aws:RequestTag/vid": thing}, "ForAllValues:StringEquals": map[string]any{"aws:TagKeys": "vid"}}
	// The trust: the account, for the certificate role alone; the thing is
	// the certificate role's own policy's to check (both must allow).
	account := map[string]any{"AWS": map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":iam::", map[string]any{"Ref": "AWS::AccountId"}, ":root"}}}}
	fromCertificates := map[string]any{"aws:PrincipalArn": map[string]any{"Fn::GetAtt": []any{certRole, "Arn"}}}
	cdktest.Check(t, "the vehicle role trusts the account for the certificate role alone", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Action": "sts:AssumeRole", "Effect": "Allow", "Condition": map[string]any{"ArnEquals": fromCertificates}, "Principal": account},
				map[string]any{"Action": "sts:TagSession", "Effect": "Allow", "Principal": account, "Sid": "TagVidOnly",
					"Condition": map[string]any{"ArnEquals": fromCertificates, "ForAllValues:StringEquals": map[string]any{"aws:TagKeys": "vid"}}},
			}},
		})
	})
	cdktest.Check(t, "and the certificate role may do no more", func() {
		vehicleRole := map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^FleetVehicleRole[0-9A-F]+$")), "Arn"}}
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"Roles": []any{map[string]any{"Ref": certRole}},
			"PolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Action": "sts:AssumeRole", "Effect": "Allow", "Condition": own, "Resource": vehicleRole, "Sid": "AssumeAsItsOwnThing"},
				map[string]any{"Action": "sts:TagSession", "Effect": "Allow", "Condition": tag, "Resource": vehicleRole, "Sid": "TagWithItsOwnThing"},
			}},
		})
	})
}

// A role alias's duration must not exceed its role's maximum session
// duration (the same page): above one hour the certificate role says so.
func TestLongVehicleCredentials(t *testing.T) {
	tmpl := mustBuild(t, &fleetapi.FleetApiProps{VehicleCredentials: jsii.Bool(true), VehicleCredentialDuration: awscdk.Duration_Hours(jsii.Number(12))}, nil)
	cdktest.Check(t, "12 hours, both", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IoT::RoleAlias"), map[string]any{"CredentialDurationSeconds": 43200})
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"MaxSessionDuration": 43200,
			"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": []any{assertions.Match_ObjectLike(&map[string]any{
				"Principal": map[string]any{"Service": "credentials.iot.amazonaws.com"},
			})}}),
		})
	})
	short := mustBuild(t, &fleetapi.FleetApiProps{VehicleCredentials: jsii.Bool(true)}, nil)
	for _, r := range *short.FindResources(jsii.String("AWS::IAM::Role"), nil) {
		if d, ok := (*r)["Properties"].(map[string]any)["MaxSessionDuration"]; ok {
			t.Errorf("MaxSessionDuration %v set with one hour of credentials, IAM's default", d)
		}
	}
}

// Without VehicleCredentials there is no IoT resource, and the vehicle
// role trusts this account's principals allowed to, with the vid tag.
func TestVehicleRoleWithoutCredentials(t *testing.T) {
	tmpl := mustBuild(t, nil, nil)
	cdktest.Check(t, "no IoT", func() {
		tmpl.ResourceCountIs(jsii.String("AWS::IoT::RoleAlias"), jsii.Number(0))
		tmpl.ResourceCountIs(jsii.String("AWS::IoT::Policy"), jsii.Number(0))
	})
	cdktest.Check(t, "the account, with the tag", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": []any{"sts:AssumeRole", "sts:TagSession"}, "Effect": "Allow",
				"Condition": map[string]any{"Null": map[string]any{"aws:RequestTag/vid": "false"}},
				"Principal": map[string]any{"AWS": assertions.Match_AnyValue()},
			}}},
			"Description": assertions.Match_StringLikeRegexp(jsii.String("^FleetApi vehicle:")),
		})
	})
}

// The caller classes are the construct's: API Gateway imports a body
// without them.
func TestImportedBodyHasNoExtensionOfOurs(t *testing.T) {
	// The spec holds the construct's own extensions (else this test could
	// not fail); the imported body holds none of them.
	for _, ext := range []string{fleetapiSpec.ExtCallers, fleetapiSpec.ExtDynamoDB} {
		if !strings.Contains(string(fleetapiSpec.SpecYAML), ext+":") {
			t.Fatalf("api/swagger.yaml holds no %s", ext)
		}
	}
	tmpl := mustBuild(t, nil, nil)
	bodies := 0
	for _, r := range *tmpl.FindResources(jsii.String("AWS::ApiGateway::RestApi"), nil) {
		bodies++
		body, _ := json.Marshal((*r)["Properties"].(map[string]any)["Body"])
		for _, ext := range []string{fleetapiSpec.ExtCallers, fleetapiSpec.ExtDynamoDB} {
			if strings.Contains(string(body), ext) {
				t.Errorf("the imported body holds %s", ext)
			}
		}
		if !strings.Contains(string(body), "x-amazon-apigateway-integration") {
			t.Error("the imported body has no integrations: wrong resource?")
		}
	}
	if bodies != 1 {
		t.Errorf("%d REST APIs, want one", bodies)
	}
}
