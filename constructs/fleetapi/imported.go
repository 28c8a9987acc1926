package fleetapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// IFleetApi is a FleetApi: one this app defines (NewFleetApi) or one
// another stack deployed, imported by its attributes
// (FleetApi_FromFleetApiAttributes). It has what other teams use: the
// API's URL, its caller-class roles, grants, and metrics for their alarms.
type IFleetApi interface {
	constructs.IConstruct
	// Url is the stage's URL, https://ID.execute-api.REGION.amazonaws.com/STAGE/.
	Url() *string
	// FleetReadRole and FleetAdminRole are the caller-class roles.
	FleetReadRole() awsiam.IRole
	FleetAdminRole() awsiam.IRole
	// GrantInvoke lets grantee call the named operations (none: every
	// operation a fleet class may call); GrantFleetRead and GrantFleetAdmin
	// those of a class. An imported FleetApi grants through its class
	// roles (see FleetApi_FromFleetApiAttributes).
	GrantInvoke(grantee awsiam.IGrantable, operations ...string) awsiam.Grant
	GrantFleetRead(grantee awsiam.IGrantable) awsiam.Grant
	GrantFleetAdmin(grantee awsiam.IGrantable) awsiam.Grant
	MetricUploads(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric
	MetricSamplesIngested(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric
	MetricAccessRefused(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric
	MetricApiServerErrors(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric
	MetricApiLatency(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric
}

var _ IFleetApi = (*FleetApi)(nil)

// FleetApiAttributes are what an imported FleetApi needs: the outputs of
// the stack that deployed it (fleetstack's RestApiId, RestApiName,
// StageName, FleetReadRoleArn, FleetAdminRoleArn and the functions' names).
type FleetApiAttributes struct {
	// RestApiId and StageName make the URL.
	RestApiId *string
	StageName *string
	// RestApiName is the ApiName dimension of API Gateway's metrics.
	RestApiName *string
	// FleetReadRoleArn and FleetAdminRoleArn are the caller-class roles.
	FleetReadRoleArn  *string
	FleetAdminRoleArn *string
	// FunctionNames are the API's functions' names by the name the spec
	// gives them (vehicles, events, ingest): the dimension of their metrics.
	FunctionNames *map[string]*string
	// Account and Region of the API. Default: the importing stack's.
	Account *string
	Region  *string
}

// importedFleetApi is a FleetApi of another stack.
type importedFleetApi struct {
	constructs.Construct
	attrs      FleetApiAttributes
	spec       *api.Spec
	fleetRoles map[string]awsiam.IRole
}

// FleetApi_FromFleetApiAttributes imports a FleetApi another stack
// deployed, as aws-cdk-lib's Table.fromTableAttributes does. Its grants go
// through the caller-class roles: the deploying stack's functions check
// every caller against the principals that stack granted, and that stack
// cannot be told of a grantee here; so grantee may assume the class role
// (sts:AssumeRole, which the role's trust of its account allows) whose
// operations include the named ones, and calls the API in that role. Every
// attribute is required but Account and Region; a missing one panics,
// naming it.
func FleetApi_FromFleetApiAttributes(scope constructs.Construct, id string, attrs *FleetApiAttributes) IFleetApi {
	if attrs == nil {
		attrs = &FleetApiAttributes{}
	}
	for name, v := range map[string]*string{"RestApiId": attrs.RestApiId, "StageName": attrs.StageName, "RestApiName": attrs.RestApiName,
		"FleetReadRoleArn": attrs.FleetReadRoleArn, "FleetAdminRoleArn": attrs.FleetAdminRoleArn} {
		if v == nil || *v == "" {
			panic(fmt.Errorf("fleetapi %q: FromFleetApiAttributes: %s is required (an output of the stack that deployed the FleetApi)", id, name))
		}
	}
	spec := loadSpec(nil)
	for _, fn := range spec.Functions() {
		if attrs.FunctionNames == nil || (*attrs.FunctionNames)[fn] == nil {
			panic(fmt.Errorf("fleetapi %q: FromFleetApiAttributes: FunctionNames needs %s", id, strings.Join(spec.Functions(), ", ")))
		}
	}
	f := &importedFleetApi{attrs: *attrs, spec: spec}
	constructs.NewConstruct_Override(f, scope, jsii.String(id))
	f.fleetRoles = map[string]awsiam.IRole{
		contract.CallerFleetRead:  awsiam.Role_FromRoleArn(f, jsii.String("FleetReadRole"), attrs.FleetReadRoleArn, &awsiam.FromRoleArnOptions{Mutable: jsii.Bool(false)}),
		contract.CallerFleetAdmin: awsiam.Role_FromRoleArn(f, jsii.String("FleetAdminRole"), attrs.FleetAdminRoleArn, &awsiam.FromRoleArnOptions{Mutable: jsii.Bool(false)}),
	}
	return f
}

func (f *importedFleetApi) stack() awscdk.Stack { return awscdk.Stack_Of(f) }

func (f *importedFleetApi) region() *string {
	if f.attrs.Region != nil {
		return f.attrs.Region
	}
	return f.stack().Region()
}

func (f *importedFleetApi) Url() *string {
	return jsii.String(fmt.Sprintf("https://%s.execute-api.%s.%s/%s/", *f.attrs.RestApiId, *f.region(), *f.stack().UrlSuffix(), *f.attrs.StageName))
}

func (f *importedFleetApi) FleetReadRole() awsiam.IRole {
	return f.fleetRoles[contract.CallerFleetRead]
}
func (f *importedFleetApi) FleetAdminRole() awsiam.IRole {
	return f.fleetRoles[contract.CallerFleetAdmin]
}

func (f *importedFleetApi) GrantFleetRead(grantee awsiam.IGrantable) awsiam.Grant {
	return f.FleetReadRole().GrantAssumeRole(grantee.GrantPrincipal())
}

func (f *importedFleetApi) GrantFleetAdmin(grantee awsiam.IGrantable) awsiam.Grant {
	return f.FleetAdminRole().GrantAssumeRole(grantee.GrantPrincipal())
}

// GrantInvoke grants the class roles whose operations include the named
// ones: fleet-read for what it may call, fleet-admin for the rest.
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
		g := f.fleetRoles[class].GrantAssumeRole(grantee.GrantPrincipal())
		if grant == nil {
			grant = g
		} else {
			grant = grant.Combine(g)
		}
	}
	return grant
}

func (f *importedFleetApi) MetricUploads(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	upload := f.spec.Upload()
	return uploadsMetric(f.attrs.RestApiName, f.attrs.StageName, upload.Method, upload.Path, f.metricOptions(opts, "Sum"))
}

func (f *importedFleetApi) MetricSamplesIngested(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return functionMetric(metrics.SamplesIngested, (*f.attrs.FunctionNames)[f.spec.Upload().Function], f.metricOptions(opts, "Sum"))
}

func (f *importedFleetApi) MetricAccessRefused(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	o := f.metricOptions(opts, "Sum")
	names := map[string]*string{}
	for _, fn := range f.spec.Functions() {
		names[fn] = (*f.attrs.FunctionNames)[fn]
	}
	return sumOf("refused requests", names, o, func(name *string) awscloudwatch.IMetric { return functionMetric(metrics.AccessRefused, name, o) })
}

func (f *importedFleetApi) MetricApiServerErrors(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric("5XXError", f.attrs.RestApiName, f.attrs.StageName, f.metricOptions(opts, "Sum"))
}

func (f *importedFleetApi) MetricApiLatency(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric("Latency", f.attrs.RestApiName, f.attrs.StageName, f.metricOptions(opts, "p99"))
}

// metricOptions are the options with the default statistic and, for an API
// of another account or Region, that account and Region.
func (f *importedFleetApi) metricOptions(opts *awscloudwatch.MetricOptions, stat string) *awscloudwatch.MetricOptions {
	o := metricOptions(opts, stat)
	if o.Account == nil {
		o.Account = f.attrs.Account
	}
	if o.Region == nil {
		o.Region = f.attrs.Region
	}
	return o
}

// stageMetric is a metric of API Gateway's for a stage, as the CDK's
// Stage.metric makes it: namespace AWS/ApiGateway, dimensions ApiName and
// Stage.
func stageMetric(name string, apiName, stage *string, o *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/ApiGateway"), MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{"ApiName": apiName, "Stage": stage},
		Period:        o.Period, Statistic: o.Statistic, Label: o.Label, Color: o.Color, Unit: o.Unit, Account: o.Account, Region: o.Region,
	})
}

// uploadsMetric is the requests of the upload method (API Gateway's
// per-method metrics; detailed metrics are on).
func uploadsMetric(apiName, stage *string, method, resource string, o *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return methodMetric("Count", apiName, stage, method, resource, o)
}

// methodMetric is a metric of one method of the stage: its Resource
// dimension is the method's path template.
func methodMetric(name string, apiName, stage *string, method, resource string, o *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/ApiGateway"), MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{"ApiName": apiName, "Stage": stage, "Method": jsii.String(method), "Resource": jsii.String(resource)},
		Period:        o.Period, Statistic: o.Statistic, Label: o.Label, Color: o.Color, Unit: o.Unit, Account: o.Account, Region: o.Region,
	})
}

// functionMetric is a metric a function writes in CloudWatch embedded
// metric format (package metrics), by its function's name.
func functionMetric(name string, function *string, o *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{metrics.DimensionFunctionName: function},
		Period:        o.Period, Statistic: o.Statistic, Label: o.Label, Color: o.Color, Unit: o.Unit, Account: o.Account, Region: o.Region,
	})
}

// sumOf is the sum of a metric over keyed items (the functions), in metric
// math named by the keys (filledSum: a function that had no refusal in a
// period has no data point).
func sumOf[T any](what string, items map[string]T, o *awscloudwatch.MetricOptions, metric func(T) awscloudwatch.IMetric) awscloudwatch.IMetric {
	using := map[string]awscloudwatch.IMetric{}
	for name, item := range items {
		using[name] = metric(item)
	}
	return filledSum(what, using, o.Period)
}
