package fleetapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiot"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
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

// addCallerRoles defines the roles of the caller classes: the vehicle role
// (a session of it is one vehicle, its session name and its tag vid the
// vehicle's), a role per fleet class, and, with VehicleCredentials, the
// AWS IoT Core credentials provider's way into the vehicle role.
func (f *FleetApi) addCallerRoles(p FleetApiProps) {
	f.vehicleRole = awsiam.NewRole(f, jsii.String("VehicleRole"), &awsiam.RoleProps{
		Description: jsii.String("FleetApi vehicle: a session of it acts for the vehicle its session name and its tag " + access.VehicleTag + " name"),
		AssumedBy:   f.vehicleRoleTrust(p),
	})
	f.fleetRoles = map[string]awsiam.Role{}
	for _, class := range []string{contract.CallerFleetRead, contract.CallerFleetAdmin} {
		f.fleetRoles[class] = awsiam.NewRole(f, jsii.String(exportedClass(class)+"Role"), &awsiam.RoleProps{
			Description: jsii.String(fmt.Sprintf("FleetApi %s: the operations of caller class %s, on every vehicle", class, class)),
			// Principals of this account whose own policy lets them assume it.
			AssumedBy: awsiam.NewAccountRootPrincipal(),
		})
	}
}

// vehicleRoleTrust says who may start a session of the vehicle role: the
// certificate role, as its own thing only (access.EnterVehicleRole), or,
// without VehicleCredentials, this account's principals allowed to, with
// the vid tag (their broker must name the vid as session name too; a
// session whose two disagree is refused by one layer or the other).
func (f *FleetApi) vehicleRoleTrust(p FleetApiProps) awsiam.IPrincipal {
	if !*p.VehicleCredentials {
		return awsiam.NewSessionTagsPrincipal(awsiam.NewPrincipalWithConditions(awsiam.NewAccountRootPrincipal(), &map[string]any{
			"Null": map[string]any{"aws:RequestTag/" + access.VehicleTag: "false"},
		}))
	}
	// A role alias's credential duration must be at most its role's
	// maximum session duration (the credentials provider's page), which is
	// one hour unless set.
	var maxSession awscdk.Duration
	if s := p.VehicleCredentialDuration.ToSeconds(nil); *s > 3600 {
		maxSession = p.VehicleCredentialDuration
	}
	f.certificateRole = awsiam.NewRole(f, jsii.String("VehicleCertificateRole"), &awsiam.RoleProps{
		Description: jsii.String("FleetApi vehicle certificates, through the AWS IoT Core credentials provider: may only enter the vehicle role as their own thing"),
		// The trust policy AWS documents for the credentials provider.
		AssumedBy:          awsiam.NewServicePrincipal(jsii.String("credentials.iot.amazonaws.com"), nil),
		MaxSessionDuration: maxSession,
	})
	statements := access.EnterVehicleRole("")
	return awsiam.NewPrincipalWithConditions(awsiam.NewArnPrincipal(f.certificateRole.RoleArn()), conditionsOf(statements[0]))
}

// addVehicleCredentials completes the credentials provider's way in: the
// certificate role may enter the vehicle role as its own thing, the trust
// policy says the same for the session tag, the role alias points at the
// certificate role, and the IoT policy attached to each vehicle
// certificate may use that alias and nothing else.
func (f *FleetApi) addVehicleCredentials(p FleetApiProps) {
	if f.certificateRole == nil {
		return
	}
	statements := access.EnterVehicleRole(*f.vehicleRole.RoleArn())
	for _, s := range statements {
		f.certificateRole.AddToPolicy(policyStatement(s))
	}
	// The trust policy's statement for the session tag (the role's
	// AssumedBy wrote the one for sts:AssumeRole).
	tag := statements[1]
	f.vehicleRole.AssumeRolePolicy().AddStatements(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(tag.Sid),
		Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(f.certificateRole.RoleArn())},
		Actions:    jsii.Strings(tag.Actions...),
		Conditions: conditionsOf(tag),
	}))
	alias := awsiot.NewCfnRoleAlias(f, jsii.String("VehicleRoleAlias"), &awsiot.CfnRoleAliasProps{
		RoleArn:                   f.certificateRole.RoleArn(),
		CredentialDurationSeconds: p.VehicleCredentialDuration.ToSeconds(nil),
	})
	f.roleAlias = alias
	f.certificateStatements = append(f.certificateStatements, access.CertificatePolicy(*alias.AttrRoleAliasArn()))
}

// addCertificatePolicy defines the IoT policy to attach to each vehicle's
// certificate, with what VehicleCredentials and MqttUploads let it do.
func (f *FleetApi) addCertificatePolicy() {
	if len(f.certificateStatements) == 0 {
		return
	}
	var statements []awsiam.PolicyStatement
	for _, s := range f.certificateStatements {
		statements = append(statements, policyStatement(s))
	}
	doc := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements})
	f.certificatePolicy = awsiot.NewCfnPolicy(f, jsii.String("VehicleCertificatePolicy"), &awsiot.CfnPolicyProps{PolicyDocument: doc})
}

// grantCallers lets each caller class invoke its operations and no other:
// the vehicle role its own vid's, each fleet role every vehicle's, each
// denied what its patterns reach beyond (access.Beyond). The construct
// owns these roles, so nothing else needs what the deny refuses.
func (f *FleetApi) grantCallers(spec *api.Spec) {
	vehicleOps := access.Operations(spec, contract.CallerVehicle)
	f.vehicleRole.AddToPolicy(policyStatement(access.Invoke(vehicleOps, contract.CallerVehicle, f.executeApiArn)))
	if d := access.Beyond(spec, vehicleOps, contract.CallerVehicle, f.executeApiArn); d != nil {
		f.vehicleRole.AddToPolicy(policyStatement(*d))
	}
	for _, class := range []string{contract.CallerFleetRead, contract.CallerFleetAdmin} {
		role := f.fleetRoles[class]
		f.grantClass(role, class)
		if d := access.Beyond(spec, access.Operations(spec, class), class, f.executeApiArn); d != nil {
			role.AddToPolicy(policyStatement(*d))
		}
	}
}

// executeApiArn is the execute-api ARN of a method and path of this stage.
func (f *FleetApi) executeApiArn(method, path string) string {
	return *f.restApi.ArnForExecuteApi(jsii.String(method), jsii.String(path), f.restApi.DeploymentStage().StageName())
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

// GrantFleetRead lets grantee call the operations of caller class
// fleet-read on every vehicle (execute-api:Invoke), and tells the
// functions so: they check each caller against the grants.
func (f *FleetApi) GrantFleetRead(grantee awsiam.IGrantable) awsiam.Grant {
	return f.grantClass(grantee, contract.CallerFleetRead)
}

// GrantFleetAdmin lets grantee call the operations of caller class
// fleet-admin (register and update vehicles) on every vehicle.
func (f *FleetApi) GrantFleetAdmin(grantee awsiam.IGrantable) awsiam.Grant {
	return f.grantClass(grantee, contract.CallerFleetAdmin)
}

func (f *FleetApi) grantClass(grantee awsiam.IGrantable, class string) awsiam.Grant {
	var ids []string
	for _, op := range f.operations {
		if slices.Contains(op.callers, class) {
			ids = append(ids, op.id)
		}
	}
	return f.GrantInvoke(grantee, ids...)
}

// GrantInvoke lets grantee call the named operations (operationIds of
// api/swagger.yaml) on every vehicle, on this stage: execute-api:Invoke at
// the gateway, and the functions told so, since they check every caller
// against the grants. The gateway's resources match '*' across path
// segments (GET /vehicles/* reaches GET /vehicles/{vid}/events too), and
// a grant never denies, so that grants add up: the functions refuse, 403,
// what was not granted, and count it (MetricAccessRefused). No operation
// named: every operation a fleet class may call. grantee must be an IAM
// role or user (a function's role, a role of your own). An unknown operation, or one only vehicles call (each as
// itself, in the vehicle role), panics with the reason.
func (f *FleetApi) GrantInvoke(grantee awsiam.IGrantable, operations ...string) awsiam.Grant {
	if len(operations) == 0 {
		for _, op := range f.operations {
			if slices.ContainsFunc(op.callers, contract.IsFleetClass) {
				operations = append(operations, op.id)
			}
		}
	}
	arn := principalArn(grantee)
	if arn == "" || !f.isRoleOrUser(arn) {
		panic(fmt.Errorf("fleetapi %q: GrantInvoke: the grantee must be an IAM role or user, the identity the functions check: got %s", *f.Node().Id(), f.principalText(grantee)))
	}
	var arns []*string
	for _, id := range operations {
		i := slices.IndexFunc(f.operations, func(r route) bool { return r.id == id })
		if i < 0 {
			panic(fmt.Errorf("fleetapi %q: GrantInvoke: unknown operation %q: known operations are %s", *f.Node().Id(), id, strings.Join(f.operationIDs(), ", ")))
		}
		op := f.operations[i]
		if !slices.ContainsFunc(op.callers, contract.IsFleetClass) {
			panic(fmt.Errorf("fleetapi %q: GrantInvoke: operation %s is called by vehicles only, each as itself in the vehicle role (VehicleRole), never granted to another principal", *f.Node().Id(), id))
		}
		arns = append(arns, jsii.String(f.executeApiArn(op.method, executeApiPath(op.path))))
		if !slices.Contains(f.principals[arn], id) {
			f.principals[arn] = append(f.principals[arn], id)
		}
	}
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("execute-api:Invoke"),
		ResourceArns: &arns,
	})
}

// principalArn is the ARN of a grantee's principal, "" when it has none
// (a service or an account).
func principalArn(grantee awsiam.IGrantable) string {
	fragment := grantee.GrantPrincipal().PolicyFragment().PrincipalJson()
	if fragment == nil {
		return ""
	}
	aws := (*fragment)["AWS"]
	if aws == nil || len(*aws) != 1 {
		return ""
	}
	return *(*aws)[0]
}

func (f *FleetApi) principalText(grantee awsiam.IGrantable) string {
	b, _ := json.Marshal(awscdk.Stack_Of(f).Resolve(grantee.GrantPrincipal().PolicyFragment().PrincipalJson()))
	return string(b)
}

// isRoleOrUser reports whether arn names an IAM role or user: parsed when
// it is known at synthesis; else as CloudFormation would make it: an
// attribute of a resource of the stack (a role's or user's ARN), or an
// ARN joined of parts that make it a role's or user's.
func (f *FleetApi) isRoleOrUser(arn string) bool {
	switch v := awscdk.Stack_Of(f).Resolve(jsii.String(arn)).(type) {
	case string:
		_, err := contract.ParsePrincipal(v)
		return err == nil
	case map[string]any:
		if _, ok := v["Fn::GetAtt"]; ok {
			return true
		}
		join, _ := v["Fn::Join"].([]any)
		if len(join) != 2 {
			return true // an import or another function: CloudFormation's to check
		}
		parts, _ := join[1].([]any)
		var b strings.Builder
		for _, p := range parts {
			if s, ok := p.(string); ok {
				b.WriteString(s)
			} else {
				b.WriteString("x")
			}
		}
		joined := b.String()
		return strings.Contains(joined, ":iam::") && (strings.Contains(joined, ":role/") || strings.Contains(joined, ":user/"))
	}
	return true
}

// principalsOf writes, for a function's environment, the grants of its
// operations, when the template is written: grants made after the
// construct are in it too.
func (f *FleetApi) principalsOf(ops []string) *string {
	return awscdk.Lazy_UncachedString(&principalsProducer{f: f, ops: ops}, nil)
}

type principalsProducer struct {
	f   *FleetApi
	ops []string
}

func (p *principalsProducer) Produce(awscdk.IResolveContext) *string {
	granted := map[string][]string{}
	for arn, ids := range p.f.principals {
		for _, id := range ids {
			if slices.Contains(p.ops, id) {
				granted[arn] = append(granted[arn], id)
			}
		}
	}
	return jsii.String(contract.FormatPrincipals(granted))
}

// VehicleRole is the role vehicles call the API in: a session of it acts
// for the vehicle its session name and session tag vid name, both the
// same (docs/security.md). With VehicleCredentials, vehicle certificates
// enter it through the AWS IoT Core credentials provider.
func (f *FleetApi) VehicleRole() awsiam.IRole { return f.vehicleRole }

// FleetReadRole may read every vehicle and its events; principals of this
// account whose own policy allows sts:AssumeRole on it may assume it.
func (f *FleetApi) FleetReadRole() awsiam.IRole { return f.fleetRoles[contract.CallerFleetRead] }

// FleetAdminRole may register and update vehicles; principals of this
// account whose own policy allows sts:AssumeRole on it may assume it.
func (f *FleetApi) FleetAdminRole() awsiam.IRole { return f.fleetRoles[contract.CallerFleetAdmin] }

// VehicleRoleAlias is the AWS IoT role alias vehicles get credentials
// through (its name is in the URL they call); nil without
// VehicleCredentials.
func (f *FleetApi) VehicleRoleAlias() awsiot.CfnRoleAlias { return f.roleAlias }

// VehicleCertificatePolicy is the AWS IoT policy to attach to each
// vehicle's certificate; nil without VehicleCredentials.
func (f *FleetApi) VehicleCertificatePolicy() awsiot.CfnPolicy { return f.certificatePolicy }
