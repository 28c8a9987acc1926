// Package metrics declares the custom CloudWatch metrics the functions emit
// in their log lines (CloudWatch embedded metric format), so that the
// handlers that emit them and the construct that graphs and alarms on them
// name them alike. It imports nothing.
package metrics

// Namespace of the FleetApi's custom metrics.
const Namespace = "FleetApi"

// DimensionFunctionName is the one dimension of every custom metric: the
// name of the Lambda function that emitted it, which tells one deployment
// (stage, account) from another.
const DimensionFunctionName = "FunctionName"

// SamplesIngested counts the samples of the uploads stored (not those of a
// retried upload stored before), unit Count.
const SamplesIngested = "SamplesIngested"

// AccessRefused counts the requests a function refused with 403 because
// its caller may not call the operation or not on that vehicle, unit
// Count. The gateway's policy refuses these first: any data point means a
// grant, a policy or the gateway let one through.
const AccessRefused = "AccessRefused"
