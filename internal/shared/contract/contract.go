// Package contract declares what the CDK construct and the functions agree
// on: the environment a function reads, how the routes and principals
// api/swagger.yaml and the grants give a function are written into it, and
// the caller classes. The operations themselves are declared in the spec
// (package api), which the functions do not link. It imports nothing of
// the project, so that the construct links no runtime code.
package contract

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Environment variables of a function, set by the construct.
const (
	// EnvRoutes lists the operations the function serves, as FormatRoutes
	// writes them: those api/swagger.yaml gives it.
	EnvRoutes = "FLEETAPI_ROUTES"
	// EnvVehiclesTable and EnvEventsTable name the tables (CloudFormation
	// generates the names).
	EnvVehiclesTable = "VEHICLES_TABLE"
	EnvEventsTable   = "VEHICLE_EVENTS_TABLE"
	// EnvEventRetentionDays is the TTL of events, whole days: the hot
	// window the API reads.
	EnvEventRetentionDays = "EVENT_RETENTION_DAYS"
	// EnvHistory says where the samples older than the hot window are,
	// for the answers that point a reader there: the Athena table and its
	// workgroup, "DATABASE.TABLE WORKGROUP" (FormatHistory); unset when
	// the stage keeps no history.
	EnvHistory = "FLEETAPI_HISTORY"
	// EnvHistoryRetentionDays is how long the history keeps a sample,
	// whole days: an upload may carry samples that old. Unset without a
	// history.
	EnvHistoryRetentionDays = "FLEETAPI_HISTORY_RETENTION_DAYS"
	// EnvCursorKeySecret names the Secrets Manager secret whose string
	// value signs pagination cursors; set for functions that paginate.
	EnvCursorKeySecret = "CURSOR_KEY_SECRET_ARN"
	// EnvVehicleRole is the ARN of the role vehicles call the API in: a
	// session of it acts for the vehicle its session name names.
	EnvVehicleRole = "FLEETAPI_VEHICLE_ROLE_ARN"
	// EnvPrincipals lists the other principals the construct let invoke
	// operations, with those operations, as FormatPrincipals writes them.
	EnvPrincipals = "FLEETAPI_PRINCIPALS"
	// EnvServes says what a function serves: unset, the operations of
	// EnvRoutes; ServesSyntheticVehicle, ServesSyntheticVehicleProvider,
	// ServesTracker or ServesHistory.
	EnvServes = "FLEETAPI_SERVES"
	// EnvStateTable names the vehicles' state table.
	EnvStateTable = "VEHICLE_STATE_TABLE"
)

// What a function serves other than operations (EnvServes).
const (
	// ServesSyntheticVehicle: the synthetic vehicle's scheduled runs.
	ServesSyntheticVehicle = "synthetic-vehicle"
	// ServesSyntheticVehicleProvider: the custom resource that provisions
	// the synthetic vehicle.
	ServesSyntheticVehicleProvider = "synthetic-vehicle-provider"
	// ServesTracker: the tracker, which keeps the vehicles' state from the
	// events table's stream and IoT Core's lifecycle events, and writes
	// the fleet's figures on a schedule.
	ServesTracker = "tracker"
	// ServesHistory: the history writer, which writes the events table's
	// stream into the history bucket as Parquet.
	ServesHistory = "history"
)

// Environment of the history writer, besides the events table's.
const (
	// EnvHistoryBucket names the history bucket.
	EnvHistoryBucket = "HISTORY_BUCKET"
	// EnvHistoryFailures is the URL of the writer's failure queue.
	EnvHistoryFailures = "HISTORY_FAILURE_QUEUE_URL"
)

// Environment of the tracker, besides the tables'.
const (
	// EnvSilentAfter is how long a connected vehicle uploads nothing
	// before it counts as silent, whole seconds.
	EnvSilentAfter = "FLEETAPI_SILENT_AFTER_SECONDS"
	// EnvNotSeenAfter is how long a vehicle is not heard of before it
	// counts as not seen, whole seconds.
	EnvNotSeenAfter = "FLEETAPI_NOT_SEEN_AFTER_SECONDS"
)

// The tracker's defaults, a stage's unless it sets its own.
const (
	// DefaultStateBatchingWindow is how long the events table's stream
	// gathers records before the tracker gets them: a vehicle uploading
	// every 10 s is one write of its state per window, its state at most
	// the window and the upload's batching (about 10 s) behind its
	// samples. 70 s keeps that within 90 s and the state's cost at 10,000
	// vehicles under $15 a month (docs/capacity.md).
	DefaultStateBatchingWindow = 70 * time.Second
	// StateBatchSize is the most records of one batch of the stream
	// (Lambda's most for a DynamoDB stream): the batching window ends a
	// batch first, or Lambda's 6 MB payload, about 6,700 uploads' records
	// (docs/capacity.md); with fewer shards (a short hot window keeps the
	// table small) a smaller batch would fill before the window and write
	// the state more often.
	StateBatchSize = 10000
	// DefaultHistoryBatchingWindow is how long the events table's stream
	// gathers records before the history writer gets them: Lambda's
	// longest, for the fewest and largest objects (S3 requests and
	// Athena's reads are per object); the history is that far behind the
	// table, which the API serves meanwhile.
	DefaultHistoryBatchingWindow = 300 * time.Second
	// HistoryBatchSize is the most records of one batch of the writer's.
	HistoryBatchSize = 10000
	// HistoryPrefix is the key prefix of the history's objects in their
	// bucket: the Glue table's location.
	HistoryPrefix = "samples"
	// DefaultSilentAfter and DefaultNotSeenAfter count the fleet's
	// figures.
	DefaultSilentAfter  = 10 * time.Minute
	DefaultNotSeenAfter = 7 * 24 * time.Hour
)

// LifecycleTopicFilter is the topics of AWS IoT Core's connect and
// disconnect events of every client ($aws/events/presence/connected/
// clientId and .../disconnected/clientId), which the lifecycle rule
// selects from.
const LifecycleTopicFilter = "$aws/events/presence/+/+"

// LifecycleRuleSQL is the lifecycle rule's query: each event as IoT Core
// publishes it (its JSON elements, "Lifecycle events" in the AWS IoT Core
// developer guide), for the tracker.
const LifecycleRuleSQL = "SELECT * FROM '" + LifecycleTopicFilter + "'"

// LifecycleEvent is a connect or disconnect event as IoT Core publishes
// it: the elements the tracker reads.
type LifecycleEvent struct {
	ClientID          string `json:"clientId"`
	Timestamp         int64  `json:"timestamp"` // epoch milliseconds
	EventType         string `json:"eventType"` // connected or disconnected
	SessionIdentifier string `json:"sessionIdentifier"`
	VersionNumber     int64  `json:"versionNumber"`
	DisconnectReason  string `json:"disconnectReason,omitempty"`
	// ClientInitiatedDisconnect is in disconnect events only.
	ClientInitiatedDisconnect *bool  `json:"clientInitiatedDisconnect,omitempty"`
	PrincipalIdentifier       string `json:"principalIdentifier,omitempty"`
	IPAddress                 string `json:"ipAddress,omitempty"`
}

// The lifecycle events' types (LifecycleEvent.EventType).
const (
	LifecycleConnected    = "connected"
	LifecycleDisconnected = "disconnected"
)

// Environment of the synthetic vehicle's function, besides EnvVehicleRole.
const (
	// EnvSyntheticVID is its vid and thing name.
	EnvSyntheticVID = "FLEETAPI_SYNTHETIC_VID"
	// EnvSyntheticSecret is the ARN of the secret of its certificate and key.
	EnvSyntheticSecret = "FLEETAPI_SYNTHETIC_SECRET_ARN"
	// EnvAPIURL is the stage's URL.
	EnvAPIURL = "FLEETAPI_API_URL"
	// EnvCredentialsEndpoint and EnvDataEndpoint are the account's AWS IoT
	// Core credentials provider and device data endpoint.
	EnvCredentialsEndpoint = "FLEETAPI_CREDENTIALS_ENDPOINT"
	EnvDataEndpoint        = "FLEETAPI_DATA_ENDPOINT"
	// EnvRoleAlias is the vehicles' role alias.
	EnvRoleAlias = "FLEETAPI_ROLE_ALIAS"
	// EnvUploadTopic is its Basic Ingest upload topic.
	EnvUploadTopic = "FLEETAPI_UPLOAD_TOPIC"
)

// LiveAlias is the alias of each function its callers invoke (the API,
// the upload rule, a redrive): a deployment moves it to a new version.
const LiveAlias = "live"

// The synthetic vehicle: a registered test vehicle each stage runs end to
// end on a schedule. Its vid begins with SyntheticVIDPrefix, which the API
// refuses to register for any other vehicle; its events are kept
// SyntheticEventRetention; it is left out of the fleet's figures (the
// vehicle list, SamplesIngested).
const (
	SyntheticVIDPrefix      = "fleetapi-synthetic-"
	SyntheticEventRetention = time.Hour
)

// IsSyntheticVID reports whether vid is a synthetic vehicle's.
func IsSyntheticVID(vid string) bool { return strings.HasPrefix(vid, SyntheticVIDPrefix) }

// Caller classes: who may call an operation, as api/swagger.yaml declares
// beside each operation (api.ExtCallers).
const (
	// CallerVehicle is one vehicle acting for itself: only on the {vid}
	// its identity names.
	CallerVehicle = "vehicle"
	// CallerFleetRead is a backend service that reads every vehicle.
	CallerFleetRead = "fleet-read"
	// CallerFleetAdmin registers and updates vehicles.
	CallerFleetAdmin = "fleet-admin"
)

// CallerClasses lists the caller classes, vehicle first.
func CallerClasses() []string { return []string{CallerVehicle, CallerFleetRead, CallerFleetAdmin} }

// IsFleetClass reports whether principals may be granted a caller class:
// every class but the vehicles' (a vehicle calls as itself, in its role).
func IsFleetClass(class string) bool { return class != CallerVehicle }

// CheckCallers requires a non-empty list of known caller classes, each once.
func CheckCallers(callers []string) error {
	if len(callers) == 0 {
		return fmt.Errorf("no caller classes: known classes are %s", strings.Join(CallerClasses(), ", "))
	}
	for i, c := range callers {
		if !slices.Contains(CallerClasses(), c) {
			return fmt.Errorf("unknown caller class %q: known classes are %s", c, strings.Join(CallerClasses(), ", "))
		}
		if slices.Contains(callers[:i], c) {
			return fmt.Errorf("caller class %q named twice", c)
		}
	}
	return nil
}

// Route is an operation of the spec as API Gateway invokes it: its
// operationId, method and resource (the path template), and the caller
// classes that may call it.
type Route struct {
	Operation, Method, Resource string
	Callers                     []string
}

// Allows reports whether callers of the class may call the route.
func (r Route) Allows(class string) bool { return slices.Contains(r.Callers, class) }

// FormatRoutes writes routes for EnvRoutes: "ID METHOD /path class,class"
// joined by ";".
func FormatRoutes(routes []Route) string {
	parts := make([]string, len(routes))
	for i, r := range routes {
		parts[i] = r.Operation + " " + r.Method + " " + r.Resource + " " + strings.Join(r.Callers, ",")
	}
	return strings.Join(parts, ";")
}

// ParseRoutes reads what FormatRoutes wrote; every caller class must be a
// known one. Whether an operation is served is the handler's to say.
func ParseRoutes(s string) ([]Route, error) {
	var out []Route
	for part := range strings.SplitSeq(s, ";") {
		f := strings.Fields(part)
		if len(f) != 4 || !strings.HasPrefix(f[2], "/") {
			return nil, fmt.Errorf("route %q is not \"operationId METHOD /path class,class\"", part)
		}
		if !operationID.MatchString(f[0]) {
			return nil, fmt.Errorf("route %q: %q is not an operationId", part, f[0])
		}
		callers := strings.Split(f[3], ",")
		if err := CheckCallers(callers); err != nil {
			return nil, fmt.Errorf("route %q: %w", part, err)
		}
		out = append(out, Route{Operation: f[0], Method: f[1], Resource: f[2], Callers: callers})
	}
	return out, nil
}

// Principal is an IAM role or user as its ARN names it:
// arn:PARTITION:iam::ACCOUNT:role/PATH/NAME or .../user/PATH/NAME. Names are
// unique in an account whatever their path, and an assumed-role ARN carries
// no path (IAM User Guide, "IAM identifiers": arn:aws:sts::account-id:
// assumed-role/role-name/role-session-name), so a principal is its
// partition, account, kind and name.
type Principal struct {
	Partition, Account, Kind, Name string
}

// Kinds of principal.
const (
	KindRole = "role"
	KindUser = "user"
)

func (p Principal) String() string {
	return fmt.Sprintf("%s %s of account %s", p.Kind, p.Name, p.Account)
}

// ParsePrincipal reads an IAM role or user ARN.
func ParsePrincipal(arn string) (Principal, error) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[1] == "" || f[2] != "iam" || f[3] != "" || !IsAccount(f[4]) {
		return Principal{}, fmt.Errorf("%q is not an IAM role or user ARN such as arn:aws:iam::123456789012:role/NAME", arn)
	}
	kind, rest, _ := strings.Cut(f[5], "/")
	name := rest[strings.LastIndex(rest, "/")+1:]
	if (kind != KindRole && kind != KindUser) || name == "" {
		return Principal{}, fmt.Errorf("%q is not an IAM role or user ARN such as arn:aws:iam::123456789012:role/NAME", arn)
	}
	return Principal{Partition: f[1], Account: f[4], Kind: kind, Name: name}, nil
}

// IsAccount reports whether s is an AWS account ID: 12 digits.
func IsAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FormatPrincipals writes, for EnvPrincipals, the operations each
// principal (an IAM role or user ARN) may call: "ARN=op,op" joined by ";",
// sorted by ARN.
func FormatPrincipals(ops map[string][]string) string {
	return FormatPrincipalsInOrder(slices.Sorted(maps.Keys(ops)), ops)
}

// FormatPrincipalsInOrder is FormatPrincipals with the principals in the
// order given (those without operations left out): the construct's, whose
// ARNs are tokens until the template is written, in the order of their
// grants, which is the same in every synthesis.
func FormatPrincipalsInOrder(arns []string, ops map[string][]string) string {
	parts := make([]string, 0, len(arns))
	for _, arn := range arns {
		if len(ops[arn]) > 0 {
			parts = append(parts, arn+"="+strings.Join(ops[arn], ","))
		}
	}
	return strings.Join(parts, ";")
}

// ParsePrincipals reads what FormatPrincipals wrote; "" is no principal.
func ParsePrincipals(s string) (map[string][]string, error) {
	out := map[string][]string{}
	if s == "" {
		return out, nil
	}
	for part := range strings.SplitSeq(s, ";") {
		arn, list, ok := strings.Cut(part, "=")
		if !ok || !strings.HasPrefix(arn, "arn:") || list == "" {
			return nil, fmt.Errorf("principal %q is not \"ARN=operationId,operationId\"", part)
		}
		if _, err := ParsePrincipal(arn); err != nil {
			return nil, fmt.Errorf("principal %w", err)
		}
		for id := range strings.SplitSeq(list, ",") {
			if !operationID.MatchString(id) {
				return nil, fmt.Errorf("principal %q: %q is not an operationId", arn, id)
			}
			out[arn] = append(out[arn], id)
		}
	}
	return out, nil
}

// operationID is the form of an operationId the project writes: a
// lower-camel-case word (api/swagger.yaml declares the operations).
var operationID = regexp.MustCompile(`^[a-z][A-Za-z0-9]{0,63}$`)

// FormatHistory writes the history's place as EnvHistory holds it.
func FormatHistory(database, table, workGroup string) string {
	return database + "." + table + " " + workGroup
}

// DescribeHistory says, for a reader, where EnvHistory's value is: "the
// Athena table DATABASE.TABLE (workgroup WORKGROUP)"; "" for "".
func DescribeHistory(v string) string {
	table, workGroup, ok := strings.Cut(v, " ")
	if !ok {
		return ""
	}
	return "the Athena table " + table + " (workgroup " + workGroup + ")"
}
