package fleetapi

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
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

var (
	_ IFleetApi = (*FleetApi)(nil)
	_ IFleetApi = (*importedFleetApi)(nil)
)

// FleetApiBase is what an owned FleetApi and an imported one have alike,
// as aws-cdk-lib's TableBase is for Table and Table.fromTableAttributes:
// the caller-class roles, the class grants and the API's metrics. Both
// embed it, set by their constructor (NewFleetApi,
// FleetApi_FromFleetApiAttributes); it has no constructor of its own.
// (Exported because jsii reads the embedded fields of a construct that
// registers itself.)
type FleetApiBase struct {
	spec *api.Spec
	// apiName and stageName are the ApiName and Stage dimensions of API
	// Gateway's metrics.
	apiName, stageName *string
	// functionNames are the functions' names by the spec's names for them:
	// the dimension of the metrics they write.
	functionNames map[string]*string
	// account and region, when set, are where the API is, for its metrics:
	// nil for the stack's own.
	account, region *string
	fleetRoles      map[string]awsiam.IRole
	// grantClass grants the operations of a fleet class: execute-api on an
	// owned API, the class role on an imported one.
	grantClass func(grantee awsiam.IGrantable, class string) awsiam.Grant
}

// FleetReadRole may read every vehicle and its events; principals of this
// account whose own policy allows sts:AssumeRole on it may assume it.
func (b *FleetApiBase) FleetReadRole() awsiam.IRole { return b.fleetRoles[contract.CallerFleetRead] }

// FleetAdminRole may register and update vehicles; principals of this
// account whose own policy allows sts:AssumeRole on it may assume it.
func (b *FleetApiBase) FleetAdminRole() awsiam.IRole { return b.fleetRoles[contract.CallerFleetAdmin] }
