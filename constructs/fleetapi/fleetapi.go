// Package fleetapi provides FleetApi, the AWS CDK construct of the serverless
// vehicle-telemetry API: its DynamoDB tables and, as the project grows, the
// functions, REST API and alarms that serve them.
//
// Compose it in any Go CDK app:
//
//	api := fleetapi.NewFleetApi(stack, "Fleet", &fleetapi.FleetApiProps{
//		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
//	})
//	api.VehiclesTable().GrantReadData(myFunction)
//
// Construct IDs are part of the contract: renaming one replaces the resource,
// and a replaced table loses its data.
package fleetapi

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Key schema of the tables. Functions and local tools create tables from the
// same names, so they are declared once, here.
const (
	// VehicleIDAttribute is the partition key of both tables.
	VehicleIDAttribute = "vid"
	// EventIDAttribute is the sort key of the events table; it sorts by time.
	EventIDAttribute = "eid"
	// EventExpiryAttribute holds the epoch second after which DynamoDB's TTL
	// deletes an event.
	EventExpiryAttribute = "expiresAt"
)

// FleetApiProps configures a FleetApi. A nil *FleetApiProps takes every default.
type FleetApiProps struct {
	// What happens to the tables when they are removed from the stack or the
	// stack is deleted. SNAPSHOT is not supported by DynamoDB tables.
	// Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
	// Whether the tables refuse DeleteTable calls. Must not be true with
	// RemovalPolicy DESTROY.
	// Default: - true, unless RemovalPolicy is DESTROY.
	DeletionProtection *bool
	// Whether the tables keep continuous backups for point-in-time recovery.
	// Default: true.
	PointInTimeRecovery *bool
}

// FleetApi is the vehicle-telemetry API: the vehicles and vehicleEvents tables.
type FleetApi struct {
	constructs.Construct
	vehicles awsdynamodb.ITable
	events   awsdynamodb.ITable
}

// removalPolicies lists the policies a DynamoDB table supports.
var removalPolicies = []awscdk.RemovalPolicy{
	awscdk.RemovalPolicy_DESTROY,
	awscdk.RemovalPolicy_RETAIN,
	awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
}

// NewFleetApi defines the API's resources in scope. Like every CDK
// constructor it panics when props are invalid; the error names the bad value.
func NewFleetApi(scope constructs.Construct, id string, props *FleetApiProps) *FleetApi {
	p := props.withDefaults()
	if err := p.validate(); err != nil {
		panic(fmt.Errorf("fleetapi %q: %w", id, err))
	}
	f := &FleetApi{}
	// Registers f itself as the construct, so that it can be used as a scope.
	constructs.NewConstruct_Override(f, scope, jsii.String(id))

	pitr := &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: p.PointInTimeRecovery}
	f.vehicles = awsdynamodb.NewTable(f, jsii.String("Vehicles"), &awsdynamodb.TableProps{
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String(VehicleIDAttribute), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:                       awsdynamodb.TableEncryption_AWS_MANAGED,
		PointInTimeRecoverySpecification: pitr,
		DeletionProtection:               p.DeletionProtection,
		RemovalPolicy:                    p.RemovalPolicy,
	})
	f.events = awsdynamodb.NewTable(f, jsii.String("VehicleEvents"), &awsdynamodb.TableProps{
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String(VehicleIDAttribute), Type: awsdynamodb.AttributeType_STRING},
		SortKey:                          &awsdynamodb.Attribute{Name: jsii.String(EventIDAttribute), Type: awsdynamodb.AttributeType_STRING},
		TimeToLiveAttribute:              jsii.String(EventExpiryAttribute),
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:                       awsdynamodb.TableEncryption_AWS_MANAGED,
		PointInTimeRecoverySpecification: pitr,
		DeletionProtection:               p.DeletionProtection,
		RemovalPolicy:                    p.RemovalPolicy,
	})
	return f
}

// VehiclesTable is the table of vehicles, partition key "vid".
func (f *FleetApi) VehiclesTable() awsdynamodb.ITable { return f.vehicles }

// EventsTable is the table of vehicle events, partition key "vid", sort key
// "eid", expiring through the "expiresAt" TTL attribute.
func (f *FleetApi) EventsTable() awsdynamodb.ITable { return f.events }

// withDefaults returns a copy of props with every unset field at its default.
func (props *FleetApiProps) withDefaults() FleetApiProps {
	var p FleetApiProps
	if props != nil {
		p = *props
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if p.DeletionProtection == nil {
		p.DeletionProtection = jsii.Bool(p.RemovalPolicy != awscdk.RemovalPolicy_DESTROY)
	}
	if p.PointInTimeRecovery == nil {
		p.PointInTimeRecovery = jsii.Bool(true)
	}
	return p
}

func (p FleetApiProps) validate() error {
	if !slices.Contains(removalPolicies, p.RemovalPolicy) {
		return fmt.Errorf("removalPolicy %s is not supported by DynamoDB tables: allowed values are %v", p.RemovalPolicy, removalPolicies)
	}
	if p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY && *p.DeletionProtection {
		return fmt.Errorf("deletionProtection must be false with removalPolicy DESTROY: CloudFormation could not delete protected tables")
	}
	return nil
}
