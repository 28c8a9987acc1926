// Package access writes the IAM policies of the API's caller classes, as
// api/swagger.yaml declares them: which execute-api resources each class
// may invoke, how a vehicle enters the vehicle role, and the IoT policy
// of a vehicle's certificate. The construct turns these statements into
// CloudFormation; the local API evaluates the same statements as IAM
// would. It imports only the spec's reader and the contract, so the
// construct links no runtime code through it.
//
// How a vehicle gets its identity (docs/security.md): its X.509
// certificate gets it credentials of the certificate role from the AWS
// IoT Core credentials provider (role alias); with them it assumes the
// vehicle role, naming its thing name as the session name and as the
// session tag vid. The certificate role's own policy lets it do that only
// as its own thing (${credentials-iot:ThingName}, which the credentials
// provider adds to its credentials' context when the request names the
// thing attached to the certificate), and the vehicle role trusts its
// account for the certificate role alone (aws:PrincipalArn): both must
// allow. The vehicle role's session then says the vid twice:
// in its ARN, which API Gateway passes to the functions, and in the tag
// its execute-api policy names.
package access

import (
	"regexp"
	"slices"
	"strings"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// VehicleTag is the session tag of the vehicle role that holds the vid.
const VehicleTag = "vid"

// Policy variables (IAM User Guide, "IAM policy elements: Variables and
// tags"; AWS IoT Core Developer Guide, "Authorizing direct calls to AWS
// services using AWS IoT Core credential provider").
const (
	// VehicleTagVariable is the vid of a vehicle role session.
	VehicleTagVariable = "${aws:PrincipalTag/" + VehicleTag + "}"
	// ThingNameVariable is the thing name the credentials provider puts in
	// the context of the credentials it issues, when the request names it.
	ThingNameVariable = "${credentials-iot:ThingName}"
)

// Statement is one statement of an IAM policy, in the policy language's
// own words: its effect, actions, resources, and conditions by operator,
// then key, then values.
type Statement struct {
	Sid string
	// Effect is Allow unless Deny is set.
	Deny       bool
	Actions    []string
	Resources  []string
	Conditions map[string]map[string][]string
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// Operations returns the operations of the spec a caller class may call.
func Operations(spec *api.Spec, class string) []api.Operation {
	var out []api.Operation
	for _, op := range spec.Operations {
		if slices.Contains(op.Callers, class) {
			out = append(out, op)
		}
	}
	return out
}

// FleetOperations returns the operations of the spec a fleet class (any
// class but the vehicles') may call: what a principal can be granted.
func FleetOperations(spec *api.Spec) []api.Operation {
	var out []api.Operation
	for _, op := range spec.Operations {
		if slices.ContainsFunc(op.Callers, contract.IsFleetClass) {
			out = append(out, op)
		}
	}
	return out
}

// ExecuteApiPath writes an operation's path as its execute-api resource
// names the paths it may be called on: {vid} the vehicle's own for a
// vehicle (VehicleTagVariable), any segment ('*') otherwise; every other
// path parameter any segment.
func ExecuteApiPath(op api.Operation, class string) string {
	return pathParam.ReplaceAllStringFunc(op.Path, func(p string) string {
		if class == contract.CallerVehicle && p == "{"+api.VehicleParam+"}" {
			return VehicleTagVariable
		}
		return "*"
	})
}

// Invoke is the statement that lets callers of a class invoke the
// operations ops: execute-api:Invoke on arn(method, path) of each, path
// as ExecuteApiPath writes it.
func Invoke(ops []api.Operation, class string, arn func(method, path string) string) Statement {
	s := Statement{Actions: []string{"execute-api:Invoke"}}
	for _, op := range ops {
		s.Resources = append(s.Resources, arn(op.Method, ExecuteApiPath(op, class)))
	}
	return s
}

// Beyond is the statement that refuses what Invoke's statement of the
// operations ops would allow beyond them: execute-api resources match '*'
// across path segments (API Gateway Developer Guide, "Control access for
// invoking an API": the resource path may contain wildcards), so
// GET /vehicles/* also matches GET /vehicles/{vid}/events. It denies each
// operation of the spec that a pattern of ops matches and that ops lacks;
// nil when there is none.
func Beyond(spec *api.Spec, ops []api.Operation, class string, arn func(method, path string) string) *Statement {
	const vid = "V" // the vehicle's own vid, for a vehicle's patterns
	sample := func(op api.Operation, c string) string {
		p := op.Method + ExecuteApiPath(op, c)
		p = strings.ReplaceAll(p, VehicleTagVariable, vid)
		return strings.ReplaceAll(p, "*", "x")
	}
	var patterns []string
	for _, op := range ops {
		patterns = append(patterns, strings.ReplaceAll(op.Method+ExecuteApiPath(op, class), VehicleTagVariable, vid))
	}
	deny := Statement{Deny: true, Actions: []string{"execute-api:Invoke"}}
	for _, op := range spec.Operations {
		if slices.ContainsFunc(ops, func(o api.Operation) bool { return o.ID == op.ID }) {
			continue
		}
		concrete := sample(op, class)
		if slices.ContainsFunc(patterns, func(p string) bool { return wildcardMatch(p, concrete) }) {
			deny.Resources = append(deny.Resources, arn(op.Method, ExecuteApiPath(op, class)))
		}
	}
	if len(deny.Resources) == 0 {
		return nil
	}
	return &deny
}

// wildcardMatch matches s against a pattern whose '*' stands for any
// characters, '/' among them, as IAM matches resources.
func wildcardMatch(pattern, s string) bool {
	head, rest, wild := strings.Cut(pattern, "*")
	if !wild {
		return pattern == s
	}
	if !strings.HasPrefix(s, head) {
		return false
	}
	s = s[len(head):]
	for i := 0; i <= len(s); i++ {
		if wildcardMatch(rest, s[i:]) {
			return true
		}
	}
	return false
}

// VehicleRoleEntry is how a vehicle enters the vehicle role: the
// statement that lets it assume the role and the one that lets it tag
// the session.
type VehicleRoleEntry struct {
	Assume, Tag Statement
}

// Statements lists both statements, the assumption first.
func (e VehicleRoleEntry) Statements() []Statement { return []Statement{e.Assume, e.Tag} }

// EnterVehicleRole is what the certificate role's own policy allows: to
// assume the vehicle role as the thing whose certificate got the
// credentials and no other, the thing name as session name and as the one
// session tag, vid (${credentials-iot:ThingName}, in a policy of the role
// the credentials provider assumes, where the IoT Developer Guide
// documents it). The vehicle role's trust (VehicleRoleTrust) must allow
// too.
func EnterVehicleRole(vehicleRole string) VehicleRoleEntry {
	return VehicleRoleEntry{Assume: Statement{
		Sid:       "AssumeAsItsOwnThing",
		Actions:   []string{"sts:AssumeRole"},
		Resources: []string{vehicleRole},
		Conditions: map[string]map[string][]string{"StringEquals": {
			"sts:RoleSessionName":          {ThingNameVariable},
			"aws:RequestTag/" + VehicleTag: {ThingNameVariable},
		}},
	}, Tag: Statement{
		Sid:       "TagWithItsOwnThing",
		Actions:   []string{"sts:TagSession"},
		Resources: []string{vehicleRole},
		Conditions: map[string]map[string][]string{
			"StringEquals":              {"aws:RequestTag/" + VehicleTag: {ThingNameVariable}},
			"ForAllValues:StringEquals": {"aws:TagKeys": {VehicleTag}},
		},
	}}
}

// VehicleRoleTrust is the vehicle role's trust policy, for principals of
// its own account (the Principal the caller writes): only the certificate
// role may start a session of it (aws:PrincipalArn, which IAM puts in the
// context of every signed request, the role's ARN for a role session:
// IAM User Guide, "AWS global condition context keys"), and tag it with
// vid alone. Which thing a session may be is the certificate role's own
// policy's to say (EnterVehicleRole): the credentials provider's variables
// are documented there ("These three variables work for IAM policies
// only": AWS IoT Core Developer Guide, "Authorizing direct calls to AWS
// services using AWS IoT Core credential provider"), not in another role's
// trust policy. A trust policy that names the account, not the role,
// allows only what the caller's own policy allows too ("Policy evaluation
// logic"), so both must allow.
func VehicleRoleTrust(certificateRole string) VehicleRoleEntry {
	fromCertificates := map[string][]string{"aws:PrincipalArn": {certificateRole}}
	return VehicleRoleEntry{Assume: Statement{
		Sid:        "CertificateRoleOnly",
		Actions:    []string{"sts:AssumeRole"},
		Conditions: map[string]map[string][]string{"ArnEquals": fromCertificates},
	}, Tag: Statement{
		Sid:     "TagVidOnly",
		Actions: []string{"sts:TagSession"},
		Conditions: map[string]map[string][]string{
			"ArnEquals":                 fromCertificates,
			"ForAllValues:StringEquals": {"aws:TagKeys": {VehicleTag}},
		},
	}}
}

// ConnectionThingName is the IoT policy variable of the connected
// thing's name (AWS IoT Core Developer Guide, "Thing policy variables").
const ConnectionThingName = "${iot:Connection.Thing.ThingName}"

// MqttUpload is the IoT policy of a vehicle's certificate for uploads over
// MQTT: it connects only with its own thing's name as client ID, and only
// while the certificate is attached to that thing, and publishes only to
// its own upload topic of the rule (contract.BasicIngestTopic); it
// subscribes and receives nothing.
func MqttUpload(clientArnPrefix, topicArnPrefix, rule string) []Statement {
	return []Statement{{
		Actions:    []string{"iot:Connect"},
		Resources:  []string{clientArnPrefix + ConnectionThingName},
		Conditions: map[string]map[string][]string{"Bool": {"iot:Connection.Thing.IsAttached": {"true"}}},
	}, {
		Actions:   []string{"iot:Publish"},
		Resources: []string{topicArnPrefix + contract.BasicIngestTopic(rule, ConnectionThingName)},
	}}
}

// CertificatePolicy is the IoT policy of a vehicle's certificate: it may
// get credentials through the role alias, and do nothing else.
func CertificatePolicy(roleAlias string) Statement {
	return Statement{Actions: []string{"iot:AssumeRoleWithCertificate"}, Resources: []string{roleAlias}}
}

// Matrix writes, as a Markdown table, who may call each operation of the
// spec: docs/security.md holds it, and a test holds it to the spec.
func Matrix(spec *api.Spec) string {
	var b strings.Builder
	b.WriteString("| operation | method and path | vehicle | fleet-read | fleet-admin |\n| --- | --- | --- | --- | --- |\n")
	for _, op := range spec.Operations {
		cells := []string{op.ID, "`" + op.Method + " " + op.Path + "`"}
		for _, class := range contract.CallerClasses() {
			switch {
			case !slices.Contains(op.Callers, class):
				cells = append(cells, "403")
			case class == contract.CallerVehicle:
				cells = append(cells, "its own vid; 403 on another")
			default:
				cells = append(cells, "every vehicle")
			}
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}
