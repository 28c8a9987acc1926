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
// retried upload stored before), unit Count. It is the one metric of every
// upload: not embedded (the embedded metric format's directive was 40 % of
// the upload's log line, the stage's largest log volume) but read by a
// metric filter of the upload function's log group from two members of
// the line, SamplesIngested (the value) and FieldFunction (the dimension
// FunctionName's value).
const SamplesIngested = "SamplesIngested"

// FieldFunction is the member of every function's log line that holds the
// function's name (Lambda's AWS_LAMBDA_FUNCTION_NAME).
const FieldFunction = "function"

// SamplesIngestedFilterPattern is the metric filter's pattern: the lines
// with samples stored and the function's name. CloudWatch Logs ("Filter
// pattern syntax for metric filters", JSON log events) publishes a field as
// the value or a dimension of a line the pattern matched, and wants the
// field in the pattern ("$.field = *" at least).
const SamplesIngestedFilterPattern = "{ ($." + SamplesIngested + " > 0) && ($." + FieldFunction + " = *) }"

// AccessRefused counts the requests a function refused with 403 because
// its caller may not call the operation or not on that vehicle, unit
// Count. The gateway's policy refuses these first: any data point means a
// grant, a policy or the gateway let one through.
const AccessRefused = "AccessRefused"

// The fleet's figures, which the tracker writes every few minutes from the
// vehicles' state (unit Count, dimension FunctionName: the tracker's). The
// synthetic vehicles are not the fleet's and are not counted.
const (
	// VehiclesConnected counts the vehicles connected over MQTT.
	VehiclesConnected = "VehiclesConnected"
	// VehiclesSilent counts the vehicles connected that uploaded nothing
	// for longer than the stage's silentAfter: an agent that stopped.
	VehiclesSilent = "VehiclesSilent"
	// VehiclesNotSeen counts the vehicles not connected and not heard of
	// for longer than the stage's notSeenAfter.
	VehiclesNotSeen = "VehiclesNotSeen"
)

// The synthetic vehicle's metrics: per run, one data point of each for
// every step it ran, dimensions SyntheticVehicle (its vid, unique in the
// account and Region, and known when the template is written) and Step.
// A step after a failed one is not run and has none.
const (
	// SyntheticVehicleSuccess is 1 when the step succeeded, 0 when it
	// failed (unit None); Step Run is the whole run's.
	SyntheticVehicleSuccess = "SyntheticVehicleSuccess"
	// SyntheticVehicleLatency is how long the step took, failed or not, in
	// milliseconds.
	SyntheticVehicleLatency = "SyntheticVehicleLatency"
	// DimensionSyntheticVehicle is the synthetic vehicle's vid.
	DimensionSyntheticVehicle = "SyntheticVehicle"
	// DimensionStep names the step.
	DimensionStep = "Step"
)

// The synthetic vehicle's steps, in the order it runs them.
const (
	// StepCredentials: its certificate to the AWS IoT Core credentials
	// provider, for the certificate role's credentials.
	StepCredentials = "Credentials"
	// StepAssumeRole: STS AssumeRole into the vehicle role, as itself.
	StepAssumeRole = "AssumeRole"
	// StepHTTPSUpload: a signed upload to the REST API.
	StepHTTPSUpload = "HttpsUpload"
	// StepMQTTUpload: an upload over MQTT through Basic Ingest, until its
	// PUBACK.
	StepMQTTUpload = "MqttUpload"
	// StepReadBack: both uploads read back as fleet-read, until stored.
	StepReadBack = "ReadBack"
	// StepRun is the whole run: a success when every step succeeded.
	StepRun = "Run"
)

// SyntheticSteps lists the steps of a run, then StepRun.
func SyntheticSteps() []string {
	return []string{StepCredentials, StepAssumeRole, StepHTTPSUpload, StepMQTTUpload, StepReadBack, StepRun}
}

// Value is one metric of an embedded metric format record.
type Value struct {
	Name, Unit string
	Value      float64
}

// Dimension is a dimension's name and value.
type Dimension struct{ Name, Value string }

// Embedded returns the attributes of a log line (log/slog's key-value
// pairs) that make it a CloudWatch embedded metric format record of
// values, at timestampMs (epoch milliseconds), in Namespace, with the
// dimensions in one dimension set: CloudWatch Logs extracts the metrics
// from the line the function writes, with no API call and no latency.
func Embedded(timestampMs int64, dimensions []Dimension, values ...Value) []any {
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type directive struct {
		Namespace  string     `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []metric   `json:"Metrics"`
	}
	type metadata struct {
		Timestamp         int64       `json:"Timestamp"`
		CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
	}
	d := directive{Namespace: Namespace, Dimensions: [][]string{{}}}
	var attrs []any
	for _, dim := range dimensions {
		d.Dimensions[0] = append(d.Dimensions[0], dim.Name)
		attrs = append(attrs, dim.Name, dim.Value)
	}
	for _, v := range values {
		d.Metrics = append(d.Metrics, metric{Name: v.Name, Unit: v.Unit})
		attrs = append(attrs, v.Name, v.Value)
	}
	return append([]any{"_aws", metadata{Timestamp: timestampMs, CloudWatchMetrics: []directive{d}}}, attrs...)
}
