// Package schema declares the key schema of the FleetApi tables once: the
// CDK construct creates the tables from it, the functions read and write
// with its attribute names, and tests create local tables from it.
package schema

// Attribute names of the keys and of the TTL attribute.
const (
	// VehicleID is the partition key of every table.
	VehicleID = "vid"
	// EventID is the sort key of the events table. It starts with the
	// event's time, so a time range is one Query.
	EventID = "eid"
	// EventExpiry holds the epoch second after which DynamoDB's TTL deletes an event.
	EventExpiry = "expiresAt"
)

// Table describes one table's keys. All key attributes are strings.
type Table struct {
	// Role is the table's name in the design: "vehicles" or "vehicleEvents".
	Role string
	// PartitionKey and SortKey ("" when none) are attribute names.
	PartitionKey string
	SortKey      string
	// TTLAttribute is the TTL attribute, "" when none.
	TTLAttribute string
}

// Vehicles is the table of vehicles.
var Vehicles = Table{Role: "vehicles", PartitionKey: VehicleID}

// VehicleEvents is the table of vehicle events.
var VehicleEvents = Table{Role: "vehicleEvents", PartitionKey: VehicleID, SortKey: EventID, TTLAttribute: EventExpiry}

// VehicleState is the table of each vehicle's latest state, one item per
// vehicle: derived from the events table's stream and IoT Core's
// lifecycle events, so it can be rebuilt from them.
var VehicleState = Table{Role: "vehicleState", PartitionKey: VehicleID}
