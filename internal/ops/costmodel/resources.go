package costmodel

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Billing is how the estimate treats a CloudFormation resource type: the
// meters AWS bills it by, or none when it is free.
type Billing struct {
	// Meters the estimate must price; empty when the type is free.
	Meters []string
	// Note says why it is free, or when a meter applies.
	Note string
}

// Free reports whether the type costs nothing by itself.
func (b Billing) Free() bool { return len(b.Meters) == 0 }

// BillingOf returns how a resource type is billed; a type the model does
// not know is an error that names it, so that a template that gains one
// cannot be estimated without it.
func BillingOf(resourceType string) (Billing, error) {
	switch resourceType {
	case "AWS::DynamoDB::Table":
		return Billing{Meters: []string{"write request units", "read request units", "storage GB-month", "point-in-time recovery GB-month"},
			Note: "on-demand; PITR only when enabled"}, nil
	case "AWS::Lambda::Function":
		return Billing{Meters: []string{"requests", "GB-seconds by architecture", "X-Ray traces"},
			Note: "X-Ray only with active tracing"}, nil
	case "AWS::ApiGateway::RestApi":
		return Billing{Meters: []string{"REST API requests (tiered)", "data transfer out"}}, nil
	case "AWS::ApiGateway::Stage":
		return Billing{Meters: []string{"X-Ray traces", "cache hours"},
			Note: "X-Ray only with TracingEnabled; cache only with CacheClusterEnabled"}, nil
	case "AWS::Logs::LogGroup":
		return Billing{Meters: []string{"log ingestion GB", "log storage GB-month"}}, nil
	case "AWS::Logs::MetricFilter":
		return Billing{Meters: []string{"custom metrics per month"},
			Note: "no charge of the filter's own; the metric it publishes is a custom metric (SamplesIngested, priced with the custom metrics)"}, nil
	case "AWS::CloudWatch::Alarm":
		return Billing{Meters: []string{"alarm metrics per month"}}, nil
	case "AWS::CloudWatch::CompositeAlarm":
		return Billing{Meters: []string{"composite alarms per month"}, Note: "the alarms of its rule are billed as alarms"}, nil
	case "AWS::CloudWatch::Dashboard":
		return Billing{Meters: []string{"dashboards per month"}, Note: "the account's first dashboards are free"}, nil
	case "AWS::KMS::Key":
		return Billing{Meters: []string{"keys per month", "requests"}}, nil
	case "AWS::SecretsManager::Secret":
		return Billing{Meters: []string{"secrets per month", "API calls"}}, nil
	case "AWS::SNS::Topic":
		return Billing{Meters: []string{"publishes", "e-mail deliveries"}}, nil
	case "AWS::Budgets::Budget":
		return Billing{Meters: []string{"budget-days"}, Note: "the account's first budgets are free"}, nil
	case "AWS::IAM::Role", "AWS::IAM::Policy":
		return Billing{Note: "IAM has no charge"}, nil
	case "AWS::Lambda::Permission":
		return Billing{Note: "a resource policy statement"}, nil
	case "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Account":
		return Billing{Note: "configuration; requests are billed on the REST API"}, nil
	case "AWS::IoT::TopicRule":
		return Billing{Meters: []string{"rules triggered", "actions executed", "messages"},
			Note: "per message, in 5 KB increments: the upload rule's through Basic Ingest without the messaging charge, the lifecycle rule's per connect and disconnect, each counted as a message"}, nil
	case "AWS::SQS::Queue":
		return Billing{Meters: []string{"requests"}, Note: "the failure queues of MQTT uploads and of the tracker: a message per failure, none in the steady state"}, nil
	case "AWS::Lambda::EventSourceMapping":
		// "Read requests made by AWS Lambda-based consumers of DynamoDB
		// Streams are free" (DynamoDB Developer Guide, "Evaluate your
		// DynamoDB streams usage").
		return Billing{Note: "the tracker's and the history writer's mappings of the events table's stream: Lambda's reads of a DynamoDB stream are free; their invocations are priced as their functions' lines"}, nil
	case "AWS::Lambda::Version", "AWS::Lambda::Alias":
		return Billing{Note: "a published version and the alias its callers invoke: invocations are billed on the function"}, nil
	case "AWS::CodeDeploy::Application", "AWS::CodeDeploy::DeploymentGroup":
		// CodeDeploy's one meter in the AWS price list is the update of an
		// on-premises instance; deployments to Lambda have no charge.
		return Billing{Note: "CodeDeploy has no charge for deployments to Lambda; the rollback alarms are billed as alarms"}, nil
	case "AWS::S3::Bucket":
		return Billing{Meters: []string{"storage GB-month by class", "PUT requests", "lifecycle transitions", "retrievals"},
			Note: "the history bucket (its Athena results bucket holds a week of small results)"}, nil
	case "AWS::XRay::SamplingRule":
		return Billing{Note: "the API stage's sampling of traces: traces are billed where recorded (the stage's line)"}, nil
	case "AWS::S3::BucketPolicy":
		return Billing{Note: "a resource policy"}, nil
	case "AWS::Athena::WorkGroup":
		return Billing{Meters: []string{"TB scanned"}, Note: "at least 10 MB a query; the usage's query mix"}, nil
	case "AWS::Athena::NamedQuery":
		return Billing{Note: "a saved query: no charge"}, nil
	case "AWS::Glue::Database", "AWS::Glue::Table":
		// AWS Glue pricing: the first million objects stored and the first
		// million requests a month of the Data Catalog are free.
		return Billing{Note: "the Data Catalog's first million objects and requests a month are free: a database, a table, a few requests a query"}, nil
	case "AWS::Lambda::EventInvokeConfig":
		return Billing{Note: "configuration of asynchronous invocations"}, nil
	case "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy":
		return Billing{Note: "a resource policy"}, nil
	case "AWS::SNS::Subscription":
		return Billing{Note: "deliveries are billed on the topic"}, nil
	case "AWS::IoT::RoleAlias", "AWS::IoT::Policy":
		// AWS IoT Core's pricing meters connectivity, messaging, the
		// registry, Device Shadow and rules; the credentials provider's
		// requests are not among them, and STS has no charge.
		return Billing{Note: "configuration of the AWS IoT Core credentials provider; its requests are not metered"}, nil
	case "AWS::Events::Rule":
		return Billing{Note: "the synthetic vehicle's and the fleet's figures' schedules: EventBridge has no charge for scheduled rules; their runs are priced as the synthetic vehicle's and the tracker's lines"}, nil
	case "Custom::FleetApiSyntheticVehicle":
		return Billing{Note: "the synthetic vehicle's certificate, made when the stack is deployed by a function billed as Lambda; IoT Core has no charge for certificates or things"}, nil
	case "AWS::CDK::Metadata":
		return Billing{Note: "CDK's version reporting"}, nil
	}
	return Billing{}, fmt.Errorf("resource type %s is not in the cost model: add it to costmodel.BillingOf, priced or free", resourceType)
}

// resource is a resource of a CloudFormation template.
type resource struct {
	Type       string
	Properties map[string]any
}

// parseResources reads a template's resources, each with its type.
func parseResources(template []byte) (map[string]resource, error) {
	var t struct{ Resources map[string]resource }
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	if len(t.Resources) == 0 {
		return nil, fmt.Errorf("read template: no Resources")
	}
	for id, r := range t.Resources {
		if r.Type == "" {
			return nil, fmt.Errorf("read template: resource %s has no Type", id)
		}
	}
	return t.Resources, nil
}

// ResourceTypes counts the resources of a CloudFormation template by type.
func ResourceTypes(template []byte) (map[string]int, error) {
	resources, err := parseResources(template)
	if err != nil {
		return nil, err
	}
	return countTypes(resources), nil
}

func countTypes(resources map[string]resource) map[string]int {
	counts := map[string]int{}
	for _, r := range resources {
		counts[r.Type]++
	}
	return counts
}

// UnknownTypes returns an error naming every resource type of a template
// that BillingOf does not know, nil when it knows them all.
func UnknownTypes(template []byte) error {
	counts, err := ResourceTypes(template)
	if err != nil {
		return err
	}
	return unknownTypes(counts)
}

func unknownTypes(counts map[string]int) error {
	var unknown []string
	for _, typ := range slices.Sorted(maps.Keys(counts)) {
		if _, err := BillingOf(typ); err != nil {
			unknown = append(unknown, typ)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("resource types not in the cost model: %s; add each to costmodel.BillingOf, priced or free", strings.Join(unknown, ", "))
	}
	return nil
}
