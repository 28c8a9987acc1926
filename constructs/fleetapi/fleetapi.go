// Package fleetapi provides FleetApi, the AWS CDK construct of the serverless
// vehicle-telemetry API: an API Gateway REST API built from api/swagger.yaml,
// the Go Lambda functions that serve its operations, each allowed only what
// its operations do, and the DynamoDB tables they keep.
//
// Compose it in any Go CDK app:
//
//	api := fleetapi.NewFleetApi(stack, "Fleet", &fleetapi.FleetApiProps{
//		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
//	})
//	api.GrantFleetRead(myFunction) // reads through the API, signed
//
// The tables' items are the construct's own, versioned format: read them
// through the API (the client package), not the tables.
//
// The functions are built at synthesis with the local Go toolchain (go on
// PATH), for arm64, without Docker.
//
// Construct IDs are part of the contract: renaming one replaces the resource,
// and a replaced table loses its data.
package fleetapi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbudgets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiot"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
)

// Key schema of the tables, declared once in package schema.
const (
	// VehicleIDAttribute is the partition key of both tables.
	VehicleIDAttribute = schema.VehicleID
	// EventIDAttribute is the sort key of the events table; it sorts by time.
	EventIDAttribute = schema.EventID
	// EventExpiryAttribute holds the epoch second after which DynamoDB's TTL
	// deletes an event.
	EventExpiryAttribute = schema.EventExpiry
)

// FleetApi is the vehicle-telemetry API: the vehicles, vehicleEvents and
// vehicleState tables, one function per service of the API, and the
// tracker that keeps the vehicles' state.
type FleetApi struct {
	constructs.Construct
	// FleetApiBase carries the metrics and class grants an imported
	// FleetApi has too. A pointer, set before the construct registers
	// itself: jsii walks the embedded fields then, and would take a zero
	// struct for one of its own to initialize.
	*FleetApiBase
	tables    tables
	functions functions
	restApi   awsapigateway.SpecRestApi
	callers   callerRoles
	// credentials is nil without VehicleCredentials, upload nil without
	// MqttUploads, certificatePolicy nil with neither.
	credentials       *vehicleCredentials
	upload            *uploadPath
	certificatePolicy awsiot.CfnPolicy
	grants            *grantRegistry
	alarms            alarms
	deployments       deployments
	synthetic         *syntheticVehicle
	tracker           *trackerResource
	// history is nil without History.
	history   *historyResource
	dashboard awscloudwatch.Dashboard
	budget    awsbudgets.CfnBudget
}

// NewFleetApi defines the API's resources in scope. Like every CDK
// constructor it panics when props are invalid; the error names the bad value.
//
// Each step returns what the later ones take, in the order the resources
// are defined; nothing passes between steps otherwise.
func NewFleetApi(scope constructs.Construct, id string, props *FleetApiProps) *FleetApi {
	p := props.withDefaults()
	if err := p.validate(); err != nil {
		panic(fmt.Errorf("fleetapi %q: %w", id, err))
	}
	f := &FleetApi{FleetApiBase: &FleetApiBase{}}
	// Registers f itself as the construct, so that it can be used as a scope.
	constructs.NewConstruct_Override(f, scope, jsii.String(id))

	tables := newTables(f, p)
	spec := loadSpec(p.spec)
	callers := newCallerRoles(f, p)
	grants := newGrantRegistry()
	functions := newFunctions(f, p, spec, tables, callers.vehicle, grants)
	restApi := newRestApi(f, p, spec, functions)
	var credentials *vehicleCredentials
	if *p.VehicleCredentials {
		credentials = newVehicleCredentials(f, p, callers)
	}
	var upload *uploadPath
	if *p.MqttUploads {
		fn, alias := functions.upload(spec)
		upload = newUploadPath(f, p, fn, alias)
	}
	certificatePolicy := newCertificatePolicy(f, credentials, upload)

	*f.FleetApiBase = FleetApiBase{
		spec:    spec,
		apiName: restApi.RestApiName(),
		// The props' name, not a Ref of the stage: the functions' rollback
		// alarms read the stage's metrics, and the stage depends on the API,
		// whose integrations invoke the aliases those alarms guard.
		stageName:     p.ApiStageName,
		functionNames: functions.names(),
		fleetRoles:    callers.fleetIRoles(),
		grantClass:    f.grantClass,
	}
	f.tables, f.functions, f.restApi, f.callers, f.grants = tables, functions, restApi, callers, grants
	grantCallers(f, spec, callers)
	var synthetic *syntheticVehicle
	if *p.SyntheticVehicle {
		synthetic = newSyntheticVehicle(f, p, functions, tables, restApi, callers.vehicle, credentials, certificatePolicy, upload)
		// It reads its uploads back as a fleet reader does, event by event.
		f.GrantInvoke(synthetic.function.Role(), "getEvent")
	}

	tracker := newTracker(f, p, functions, tables, upload)
	var history *historyResource
	if *p.History {
		history = newHistory(f, p, functions, tables)
		history.grantRead(callers.fleet[contract.CallerFleetRead])
	}

	watched := monitored{base: f.FleetApiBase, functions: functions, tables: tables, restApi: restApi, upload: upload, synthetic: synthetic, tracker: tracker, history: history}
	alarms := newAlarms(f, p, watched)
	deployments := newDeployments(f, p, functions, tracker, alarms)
	dashboard := newDashboard(f, p, watched)
	budget := newBudget(f, p, alarms.topic)
	suppressNagFindings(f, p, functions, restApi, callers, upload, tables, deployments, synthetic, tracker, history)

	f.credentials, f.upload, f.certificatePolicy, f.synthetic, f.tracker, f.history = credentials, upload, certificatePolicy, synthetic, tracker, history
	f.alarms, f.deployments, f.dashboard, f.budget = alarms, deployments, dashboard, budget
	return f
}

// tables are the API's tables.
type tables struct {
	vehicles, events, state awsdynamodb.Table
}

// each lists the tables with their construct IDs and the names the
// dashboard titles them by, vehicles first.
func (t tables) each() []struct {
	id, title string
	table     awsdynamodb.Table
} {
	return []struct {
		id, title string
		table     awsdynamodb.Table
	}{{"Vehicles", schema.Vehicles.Role, t.vehicles}, {"VehicleEvents", schema.VehicleEvents.Role, t.events}, {"VehicleState", schema.VehicleState.Role, t.state}}
}

// byRole returns the tables by their role in the spec's access
// (schema.Table.Role).
func (t tables) byRole() map[string]awsdynamodb.Table {
	return map[string]awsdynamodb.Table{schema.Vehicles.Role: t.vehicles, schema.VehicleEvents.Role: t.events, schema.VehicleState.Role: t.state}
}

// newTables defines the tables: on demand, encrypted, with point-in-time
// recovery, deletion protection and the removal policy of the props; the
// events table of the props' class, its items expiring through TTL, with
// a stream of its new items (the tracker's source).
func newTables(scope constructs.Construct, p FleetApiProps) tables {
	props := func(t schema.Table) *awsdynamodb.TableProps {
		props := &awsdynamodb.TableProps{
			PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String(t.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
			Encryption:                       awsdynamodb.TableEncryption_AWS_MANAGED,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: p.PointInTimeRecovery},
			DeletionProtection:               p.DeletionProtection,
			RemovalPolicy:                    p.RemovalPolicy,
			MaxReadRequestUnits:              p.MaxReadRequestUnits,
			MaxWriteRequestUnits:             p.MaxWriteRequestUnits,
		}
		if t.SortKey != "" {
			props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(t.SortKey), Type: awsdynamodb.AttributeType_STRING}
		}
		if t.TTLAttribute != "" {
			props.TimeToLiveAttribute = jsii.String(t.TTLAttribute)
		}
		return props
	}
	vehicles := awsdynamodb.NewTable(scope, jsii.String("Vehicles"), props(schema.Vehicles))
	eventProps := props(schema.VehicleEvents)
	eventProps.TableClass = p.EventsTableClass
	// The new image of each item is what the tracker reads: an upload
	// stored, whichever path it came by. DynamoDB adds a stream to a table
	// in place.
	eventProps.Stream = awsdynamodb.StreamViewType_NEW_IMAGE
	events := awsdynamodb.NewTable(scope, jsii.String("VehicleEvents"), eventProps)
	state := awsdynamodb.NewTable(scope, jsii.String("VehicleState"), props(schema.VehicleState))
	return tables{vehicles: vehicles, events: events, state: state}
}

func loadSpec(override []byte) *api.Spec {
	load := api.Load
	if override != nil {
		load = func() (*api.Spec, error) { return api.Parse(override) }
	}
	spec, err := load()
	if err != nil {
		panic(fmt.Errorf("fleetapi: %w", err))
	}
	// The accessors name these functions.
	functions := spec.Functions()
	for _, name := range []string{functionVehicles, functionEvents} {
		if !slices.Contains(functions, name) {
			panic(fmt.Errorf("fleetapi: the API spec names no operation served by function %q: the spec's functions are %s, the construct needs %s and %s",
				name, strings.Join(functions, ", "), functionVehicles, functionEvents))
		}
	}
	// The upload's function (IngestFunction) serves the upload alone: its
	// metrics and its asynchronous invocations are the uploads'.
	if upload := spec.Upload(); len(spec.OperationsOf(upload.Function)) != 1 {
		panic(fmt.Errorf("fleetapi: the upload (%s) is served by function %s, which serves %d operations in the API spec: it must serve the upload alone",
			upload.ID, upload.Function, len(spec.OperationsOf(upload.Function))))
	}
	return spec
}

// VehiclesTable is the table of vehicles, partition key "vid".
func (f *FleetApi) VehiclesTable() awsdynamodb.ITable { return f.tables.vehicles }

// EventsTable is the table of vehicle events, partition key "vid", sort key
// "eid", expiring through the "expiresAt" TTL attribute.
func (f *FleetApi) EventsTable() awsdynamodb.ITable { return f.tables.events }

// RestApi is the API Gateway REST API built from api/swagger.yaml.
func (f *FleetApi) RestApi() awsapigateway.IRestApi { return f.restApi }

// Url is the URL of the API's deployment stage.
func (f *FleetApi) Url() *string { return f.restApi.Url() }

// exportedName turns a function name into a construct ID prefix: ingest → Ingest.
func exportedName(name string) string { return strings.ToUpper(name[:1]) + name[1:] }
