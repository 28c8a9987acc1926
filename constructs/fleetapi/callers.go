package fleetapi

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiot"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/construct/access"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// Bounds of a role alias's credentialDurationSeconds (AWS IoT Core
// Developer Guide, "Authorizing direct calls to AWS services using AWS IoT
// Core credential provider": 900 to 43,200 seconds).
const (
	minCredentialSeconds = 900
	maxCredentialSeconds = 43200
)

// callerRoles are the roles of the caller classes.
type callerRoles struct {
	// vehicle is the vehicle role: a session of it is one vehicle, its
	// session name and its tag vid the vehicle's.
	vehicle awsiam.Role
	// fleet are the fleet classes' roles, by class.
	fleet map[string]awsiam.Role
	// certificate is the role the AWS IoT Core credentials provider
	// assumes for a vehicle's certificate; nil without VehicleCredentials.
	certificate awsiam.Role
}

// fleetIRoles are the fleet classes' roles as the grants of a class take
// them.
func (c callerRoles) fleetIRoles() map[string]awsiam.IRole {
	out := make(map[string]awsiam.IRole, len(c.fleet))
	for class, role := range c.fleet {
		out[class] = role
	}
	return out
}

// newCallerRoles defines the roles of the caller classes: the vehicle role,
// a role per fleet class, and, with VehicleCredentials, the certificate
// role the vehicle role trusts.
func newCallerRoles(scope constructs.Construct, p FleetApiProps) callerRoles {
	var c callerRoles
	trust := vehicleRoleTrustWithoutCertificates()
	if *p.VehicleCredentials {
		c.certificate = newCertificateRole(scope, p)
		trust = awsiam.NewPrincipalWithConditions(awsiam.NewAccountRootPrincipal(), conditionsOf(access.VehicleRoleTrust(*c.certificate.RoleArn()).Assume))
	}
	c.vehicle = awsiam.NewRole(scope, jsii.String("VehicleRole"), &awsiam.RoleProps{
		Description: jsii.String("FleetApi vehicle: a session of it acts for the vehicle its session name and its tag " + access.VehicleTag + " name"),
		AssumedBy:   trust,
	})
	c.fleet = map[string]awsiam.Role{}
	for _, class := range []string{contract.CallerFleetRead, contract.CallerFleetAdmin} {
		c.fleet[class] = awsiam.NewRole(scope, jsii.String(exportedClass(class)+"Role"), &awsiam.RoleProps{
			Description: jsii.String(fmt.Sprintf("FleetApi %s: the operations of caller class %s, on every vehicle", class, class)),
			// Principals of this account whose own policy lets them assume it.
			AssumedBy: awsiam.NewAccountRootPrincipal(),
		})
	}
	return c
}

// vehicleRoleTrustWithoutCertificates lets this account's principals
// allowed to start a session of the vehicle role, with the vid tag (their
// broker must name the vid as session name too; a session whose two
// disagree is refused by one layer or the other).
func vehicleRoleTrustWithoutCertificates() awsiam.IPrincipal {
	return awsiam.NewSessionTagsPrincipal(awsiam.NewPrincipalWithConditions(awsiam.NewAccountRootPrincipal(), &map[string]any{
		"Null": map[string]any{"aws:RequestTag/" + access.VehicleTag: "false"},
	}))
}

// newCertificateRole defines the role the credentials provider assumes for
// a vehicle certificate: it may only enter the vehicle role as its own
// thing (access.EnterVehicleRole, newVehicleCredentials).
func newCertificateRole(scope constructs.Construct, p FleetApiProps) awsiam.Role {
	// A role alias's credential duration must be at most its role's
	// maximum session duration (the credentials provider's page), which is
	// one hour unless set.
	var maxSession awscdk.Duration
	if s := p.VehicleCredentialDuration.ToSeconds(nil); *s > 3600 {
		maxSession = p.VehicleCredentialDuration
	}
	return awsiam.NewRole(scope, jsii.String("VehicleCertificateRole"), &awsiam.RoleProps{
		Description: jsii.String("FleetApi vehicle certificates, through the AWS IoT Core credentials provider: may only enter the vehicle role as their own thing"),
		// The trust policy AWS documents for the credentials provider.
		AssumedBy:          awsiam.NewServicePrincipal(jsii.String("credentials.iot.amazonaws.com"), nil),
		MaxSessionDuration: maxSession,
	})
}

// vehicleCredentials are what the credentials provider needs: the role
// alias, and the statement of the certificate policy that uses it.
type vehicleCredentials struct {
	roleAlias awsiot.CfnRoleAlias
	statement access.Statement
}

// newVehicleCredentials completes the credentials provider's way in: the
// certificate role's own policy lets it enter the vehicle role as its own
// thing, the vehicle role's trust lets the certificate role tag the
// session with vid (the role's AssumedBy wrote the trust statement for
// sts:AssumeRole), and the role alias points at the certificate role.
func newVehicleCredentials(scope constructs.Construct, p FleetApiProps, c callerRoles) *vehicleCredentials {
	for _, s := range access.EnterVehicleRole(*c.vehicle.RoleArn()).Statements() {
		c.certificate.AddToPolicy(policyStatement(s))
	}
	tag := access.VehicleRoleTrust(*c.certificate.RoleArn()).Tag
	c.vehicle.AssumeRolePolicy().AddStatements(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(tag.Sid),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings(tag.Actions...),
		Conditions: conditionsOf(tag),
	}))
	alias := awsiot.NewCfnRoleAlias(scope, jsii.String("VehicleRoleAlias"), &awsiot.CfnRoleAliasProps{
		RoleArn:                   c.certificate.RoleArn(),
		CredentialDurationSeconds: p.VehicleCredentialDuration.ToSeconds(nil),
	})
	return &vehicleCredentials{roleAlias: alias, statement: access.CertificatePolicy(*alias.AttrRoleAliasArn())}
}

// newCertificatePolicy defines the IoT policy to attach to each vehicle's
// certificate, with what VehicleCredentials and MqttUploads let it do; nil
// with neither.
func newCertificatePolicy(scope constructs.Construct, credentials *vehicleCredentials, upload *uploadPath) awsiot.CfnPolicy {
	var statements []awsiam.PolicyStatement
	if credentials != nil {
		statements = append(statements, policyStatement(credentials.statement))
	}
	if upload != nil {
		for _, s := range upload.certificateStatements {
			statements = append(statements, policyStatement(s))
		}
	}
	if len(statements) == 0 {
		return nil
	}
	doc := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements})
	return awsiot.NewCfnPolicy(scope, jsii.String("VehicleCertificatePolicy"), &awsiot.CfnPolicyProps{PolicyDocument: doc})
}

func policyStatement(s access.Statement) awsiam.PolicyStatement {
	effect := awsiam.Effect_ALLOW
	if s.Deny {
		effect = awsiam.Effect_DENY
	}
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:     effect,
		Sid:        optionalString(s.Sid),
		Actions:    jsii.Strings(s.Actions...),
		Resources:  jsii.Strings(s.Resources...),
		Conditions: conditionsOf(s),
	})
}

func conditionsOf(s access.Statement) *map[string]any {
	if len(s.Conditions) == 0 {
		return nil
	}
	out := map[string]any{}
	for op, keys := range s.Conditions {
		m := map[string]any{}
		for k, v := range keys {
			if len(v) == 1 {
				m[k] = v[0]
			} else {
				m[k] = v
			}
		}
		out[op] = m
	}
	return &out
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}

// exportedClass turns a caller class into a construct ID: fleet-read → FleetRead.
func exportedClass(class string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(class, "-") {
		b.WriteString(exportedName(part))
	}
	return b.String()
}

// VehicleRole is the role vehicles call the API in: a session of it acts
// for the vehicle its session name and session tag vid name, both the
// same (docs/security.md). With VehicleCredentials, vehicle certificates
// enter it through the AWS IoT Core credentials provider.
func (f *FleetApi) VehicleRole() awsiam.IRole { return f.callers.vehicle }

// VehicleRoleAlias is the AWS IoT role alias vehicles get credentials
// through (its name is in the URL they call); nil without
// VehicleCredentials.
func (f *FleetApi) VehicleRoleAlias() awsiot.CfnRoleAlias {
	if f.credentials == nil {
		return nil
	}
	return f.credentials.roleAlias
}

// VehicleCertificatePolicy is the AWS IoT policy to attach to each
// vehicle's certificate; nil with neither VehicleCredentials nor
// MqttUploads.
func (f *FleetApi) VehicleCertificatePolicy() awsiot.CfnPolicy { return f.certificatePolicy }
