package fleetapi

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"

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

// metricOptions are the options with the default statistic and, for an API
// of another account or Region, that account and Region.
func (b *FleetApiBase) metricOptions(opts *awscloudwatch.MetricOptions, stat string) *awscloudwatch.MetricOptions {
	o := metricOptions(opts, stat)
	if o.Account == nil {
		o.Account = b.account
	}
	if o.Region == nil {
		o.Region = b.region
	}
	return o
}

// MetricUploads is the number of upload requests (the spec's upload, over
// HTTPS) the API stage received. Default statistic: Sum, over 5 minutes.
func (b *FleetApiBase) MetricUploads(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	upload := b.spec.Upload()
	return methodMetric("Count", b.apiName, b.stageName, upload.Method, upload.Path, b.metricOptions(opts, "Sum"))
}

// MetricSamplesIngested is the number of samples stored by uploads (a
// retried upload stores none), which the ingest function writes into its
// log lines in CloudWatch embedded metric format.
// Default statistic: Sum, over 5 minutes.
func (b *FleetApiBase) MetricSamplesIngested(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return functionMetric(metrics.SamplesIngested, b.functionNames[b.spec.Upload().Function], b.metricOptions(opts, "Sum"))
}

// MetricAccessRefused is the number of requests the functions refused,
// 403, because the caller may not call the operation or not on the
// vehicle it names (metrics.AccessRefused, which each function writes into
// its log line in CloudWatch embedded metric format), over all functions.
// Default statistic: Sum, over 5 minutes.
func (b *FleetApiBase) MetricAccessRefused(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	o := b.metricOptions(opts, "Sum")
	return sumOf("refused requests", b.functionNames, o, func(name *string) awscloudwatch.IMetric { return functionMetric(metrics.AccessRefused, name, o) })
}

// MetricApiServerErrors is the number of 5XX answers of the API stage.
// Default statistic: Sum, over 5 minutes.
func (b *FleetApiBase) MetricApiServerErrors(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric("5XXError", b.apiName, b.stageName, b.metricOptions(opts, "Sum"))
}

// MetricApiLatency is the latency of the API stage's answers in milliseconds.
// Default statistic: p99, over 5 minutes.
func (b *FleetApiBase) MetricApiLatency(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric("Latency", b.apiName, b.stageName, b.metricOptions(opts, "p99"))
}
