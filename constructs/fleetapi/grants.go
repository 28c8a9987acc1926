package fleetapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/construct/access"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// grantRegistry holds the grants of operations, by principal ARN, that
// the functions' environment lists (contract.EnvPrincipals): the
// functions check every caller against them. Grants made after the
// construct are in it too, since the environment is written with the
// template.
type grantRegistry struct {
	principals map[string][]string
	// order is the principals in the order they were first granted: their
	// ARNs are tokens, whose text differs from one synthesis to the next,
	// so sorting by it would not give one template.
	order []string
}

func newGrantRegistry() *grantRegistry { return &grantRegistry{principals: map[string][]string{}} }

func (g *grantRegistry) add(arn, operation string) {
	if _, known := g.principals[arn]; !known {
		g.order = append(g.order, arn)
	}
	if !slices.Contains(g.principals[arn], operation) {
		g.principals[arn] = append(g.principals[arn], operation)
	}
}

// principalsOf writes, for a function's environment, the grants of its
// operations, when the template is written.
func (g *grantRegistry) principalsOf(ops []string) *string {
	return awscdk.Lazy_UncachedString(&principalsProducer{grants: g, ops: ops}, nil)
}

type principalsProducer struct {
	grants *grantRegistry
	ops    []string
}

func (p *principalsProducer) Produce(awscdk.IResolveContext) *string {
	granted := map[string][]string{}
	for arn, ids := range p.grants.principals {
		for _, id := range ids {
			if slices.Contains(p.ops, id) {
				granted[arn] = append(granted[arn], id)
			}
		}
	}
	return jsii.String(contract.FormatPrincipalsInOrder(p.grants.order, granted))
}

// GrantFleetRead lets grantee call the operations of caller class
// fleet-read on every vehicle (execute-api:Invoke), and tells the
// functions so: they check each caller against the grants. On an imported
// FleetApi, grantee may assume FleetReadRole instead.
func (b *FleetApiBase) GrantFleetRead(grantee awsiam.IGrantable) awsiam.Grant {
	return b.grantClass(grantee, contract.CallerFleetRead)
}

// GrantFleetAdmin lets grantee call the operations of caller class
// fleet-admin (register and update vehicles) on every vehicle. On an
// imported FleetApi, grantee may assume FleetAdminRole instead.
func (b *FleetApiBase) GrantFleetAdmin(grantee awsiam.IGrantable) awsiam.Grant {
	return b.grantClass(grantee, contract.CallerFleetAdmin)
}

// grantCallers lets each caller class invoke its operations and no other:
// the vehicle role its own vid's, each fleet role every vehicle's, each
// denied what its patterns reach beyond (access.Beyond). The construct
// owns these roles, so nothing else needs what the deny refuses.
func grantCallers(f *FleetApi, spec *api.Spec, c callerRoles) {
	vehicleOps := access.Operations(spec, contract.CallerVehicle)
	c.vehicle.AddToPolicy(policyStatement(access.Invoke(vehicleOps, contract.CallerVehicle, f.executeApiArn)))
	if d := access.Beyond(spec, vehicleOps, contract.CallerVehicle, f.executeApiArn); d != nil {
		c.vehicle.AddToPolicy(policyStatement(*d))
	}
	for _, class := range []string{contract.CallerFleetRead, contract.CallerFleetAdmin} {
		role := c.fleet[class]
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

// grantClass grants the operations of a fleet class through execute-api.
func (f *FleetApi) grantClass(grantee awsiam.IGrantable, class string) awsiam.Grant {
	var ids []string
	for _, op := range f.functions.routes {
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
		for _, op := range f.functions.routes {
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
		i := slices.IndexFunc(f.functions.routes, func(r route) bool { return r.id == id })
		if i < 0 {
			panic(fmt.Errorf("fleetapi %q: GrantInvoke: unknown operation %q: known operations are %s", *f.Node().Id(), id, strings.Join(f.spec.IDs(), ", ")))
		}
		op := f.functions.routes[i]
		if !slices.ContainsFunc(op.callers, contract.IsFleetClass) {
			panic(fmt.Errorf("fleetapi %q: GrantInvoke: operation %s is called by vehicles only, each as itself in the vehicle role (VehicleRole), never granted to another principal", *f.Node().Id(), id))
		}
		arns = append(arns, jsii.String(f.executeApiArn(op.method, executeApiPath(op.path))))
		f.grants.add(arn, id)
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

// grantClassRole grants an imported FleetApi's class: grantee may assume
// the class role, and calls the API in it.
func grantClassRole(roles map[string]awsiam.IRole) func(awsiam.IGrantable, string) awsiam.Grant {
	return func(grantee awsiam.IGrantable, class string) awsiam.Grant {
		return roles[class].GrantAssumeRole(grantee.GrantPrincipal())
	}
}

// GrantInvoke grants the class roles whose operations include the named
// ones: fleet-read for what it may call, fleet-admin for the rest; none
// named, both.
func (f *importedFleetApi) GrantInvoke(grantee awsiam.IGrantable, operations ...string) awsiam.Grant {
	classes := map[string]bool{}
	if len(operations) == 0 {
		classes[contract.CallerFleetRead], classes[contract.CallerFleetAdmin] = true, true
	}
	for _, id := range operations {
		op, ok := f.spec.Lookup(id)
		switch {
		case !ok:
			panic(fmt.Errorf("fleetapi %q: GrantInvoke: unknown operation %q: known operations are %s", *f.Node().Id(), id, strings.Join(f.spec.IDs(), ", ")))
		case slices.Contains(op.Callers, contract.CallerFleetRead):
			classes[contract.CallerFleetRead] = true
		case slices.Contains(op.Callers, contract.CallerFleetAdmin):
			classes[contract.CallerFleetAdmin] = true
		default:
			panic(fmt.Errorf("fleetapi %q: GrantInvoke: operation %s is called by vehicles only, each as itself in the vehicle role (VehicleRole), never granted to another principal", *f.Node().Id(), id))
		}
	}
	var grant awsiam.Grant
	for _, class := range slices.Sorted(maps.Keys(classes)) {
		g := f.grantClass(grantee, class)
		if grant == nil {
			grant = g
		} else {
			grant = grant.Combine(g)
		}
	}
	return grant
}
