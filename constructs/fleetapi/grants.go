package fleetapi

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"

)

// route is an operation of the spec and the function that serves it.
type route struct {
	id, method, path string
	function         awslambda.Function
	// callers are its caller classes.
	callers []string
}

// operationIDs lists the spec's operations, sorted.
func (f *FleetApi) operationIDs() []string { return f.spec.IDs() }

// executeApiPath writes a path template as execute-api ARNs do: a path
// parameter matches any segment, '*'.
func executeApiPath(path string) string { return pathParam.ReplaceAllString(path, "*") }

// FunctionOf returns the function that serves an operation (an operationId
// of api/swagger.yaml); an unknown operation panics, naming the known ones.
func (f *FleetApi) FunctionOf(operation string) awslambda.IFunction {
	for _, op := range f.operations {
		if op.id == operation {
			return op.function
		}
	}
	panic(fmt.Errorf("fleetapi %q: unknown operation %q: known operations are %s", *f.Node().Id(), operation, strings.Join(f.operationIDs(), ", ")))
}

// The functions api/swagger.yaml names (its integrations' uri
// "fleetapi:function:NAME"), which the accessors below return.
const (
	functionVehicles = "vehicles"
	functionEvents   = "events"
)

// function returns a function the spec names; synthesis checks that it
// names these three.
func (f *FleetApi) function(name string) awslambda.Function { return f.functions[name] }


// VehiclesFunction serves the vehicle registry: the operations on
// /vehicles and /vehicles/{vid}.
func (f *FleetApi) VehiclesFunction() awslambda.IFunction { return f.function(functionVehicles) }

// EventsFunction serves the reads of events.
func (f *FleetApi) EventsFunction() awslambda.IFunction { return f.function(functionEvents) }

// IngestFunction serves the uploads of samples.
func (f *FleetApi) IngestFunction() awslambda.IFunction { return f.function(f.spec.Upload().Function) }

// MetricUploads is the number of upload requests (the operation of the
// ingest function) the API stage received. Default statistic: Sum, over 5
// minutes.
func (f *FleetApi) MetricUploads(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	upload := f.spec.Upload()
	return uploadsMetric(f.restApi.RestApiName(), f.restApi.DeploymentStage().StageName(), upload.Method, upload.Path, metricOptions(opts, "Sum"))
}

// MetricFunctionErrors is the number of errors of all the API's functions.
// Default statistic: Sum, over 5 minutes.
func (f *FleetApi) MetricFunctionErrors(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	return f.sumOverFunctions("errors", opts, func(fn awslambda.Function, o *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
		return fn.MetricErrors(o)
	})
}

// MetricFunctionThrottles is the number of throttled invocations of all
// the API's functions. Default statistic: Sum, over 5 minutes.
func (f *FleetApi) MetricFunctionThrottles(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	return f.sumOverFunctions("throttles", opts, func(fn awslambda.Function, o *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
		return fn.MetricThrottles(o)
	})
}

// MetricTableThrottledRequests is the number of throttled requests of both
// tables, over the operations the functions perform. Default: Sum, 5 minutes.
func (f *FleetApi) MetricTableThrottledRequests(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	o := metricOptions(opts, "Sum")
	return f.tableOperationsMetric("ThrottledRequests", "table throttled requests", map[string]awsdynamodb.Table{"vehicles_": f.vehicles, "events_": f.events}, o.Period)
}

func (f *FleetApi) sumOverFunctions(what string, opts *awscloudwatch.MetricOptions, metric func(awslambda.Function, *awscloudwatch.MetricOptions) awscloudwatch.IMetric) awscloudwatch.IMetric {
	o := metricOptions(opts, "Sum")
	return sumOf("function "+what, f.functions, o, func(fn awslambda.Function) awscloudwatch.IMetric { return metric(fn, o) })
}
