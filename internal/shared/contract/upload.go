package contract

import "strings"

// Uploads over MQTT: a vehicle publishes the same upload body the REST
// API takes to the Basic Ingest topic of the upload rule,
// $aws/rules/RULE/vehicles/VID/events (AWS IoT Core Developer Guide,
// "Reducing messaging costs with Basic Ingest": the rule is named in the
// topic, no broker in between, no messaging charge). The rule's SQL hands
// the ingest function a RuleEvent, invoking it asynchronously.

// UploadTopicFilter is the rule's FROM: with Basic Ingest, the topic the
// rule sees and topic() reads is the one after the $aws/rules/RULE/ prefix.
const UploadTopicFilter = "vehicles/+/events"

// UploadTopic is a vehicle's upload topic, without the Basic Ingest prefix.
func UploadTopic(vid string) string { return "vehicles/" + vid + "/events" }

// BasicIngestTopic is what vehicle vid publishes to for the rule.
func BasicIngestTopic(rule, vid string) string { return "$aws/rules/" + rule + "/" + UploadTopic(vid) }

// ParseUploadTopic returns the vid of an upload topic (without the Basic
// Ingest prefix), false for another topic.
func ParseUploadTopic(topic string) (string, bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] != "vehicles" || parts[2] != "events" || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

// RuleEventSource marks the events of the upload rule: the ingest
// function tells them from API Gateway's proxy events by it.
const RuleEventSource = "fleetapi.uploadRule"

// UploadRuleSQL is the upload rule's statement (SQL version 2016-03-23).
// topic(2) is the topic's second level, the vid; clientid() the MQTT client
// ID, which the vehicles' IoT policy makes the connected thing's name; the
// payload is passed as it came, base64 (encode(*, 'base64')), so that the
// function decodes it as strictly as a REST body; timestamp() is when IoT
// Core received it, in epoch milliseconds.
const UploadRuleSQL = "SELECT '" + RuleEventSource + "' AS source, topic() AS topic, topic(2) AS vid, clientid() AS clientId, " +
	"encode(*, 'base64') AS payload, timestamp() AS receivedAt FROM '" + UploadTopicFilter + "'"

// RuleEvent is the event the upload rule invokes the ingest function with.
type RuleEvent struct {
	Source     string `json:"source"`
	Topic      string `json:"topic"`
	VID        string `json:"vid"`
	ClientID   string `json:"clientId"`
	Payload    string `json:"payload"`
	ReceivedAt int64  `json:"receivedAt"`
}

// How the ingest function says an upload rule's event failed: "upload on
// TOPIC OUTCOME: CAUSE", the message Lambda hands the failure queue.
const (
	// UploadNotStored: the store did not answer or failed; a retry may
	// store it.
	UploadNotStored = "not stored"
	// UploadInvalid: the message is not an upload the API takes (not
	// JSON, no samples, out of range, too large); no retry stores it.
	UploadInvalid = "invalid"
	// UploadRefused: not its thing's, or a vehicle not registered; no
	// retry stores it.
	UploadRefused = "refused"
)

// UploadFailure is the ingest function's error for an upload on topic.
func UploadFailure(topic, outcome string, cause error) error {
	return &uploadFailure{topic: topic, outcome: outcome, cause: cause}
}

type uploadFailure struct {
	topic, outcome string
	cause          error
}

func (e *uploadFailure) Error() string {
	return "upload on " + e.topic + " " + e.outcome + ": " + e.cause.Error()
}
func (e *uploadFailure) Unwrap() error { return e.cause }

// FinalUploadFailure reports whether a failure's message (as Lambda's
// errorMessage carries it) says no retry can store the upload: invalid or
// refused.
func FinalUploadFailure(message string) bool {
	i := strings.Index(message, "upload on ")
	if i < 0 {
		return false
	}
	rest := message[i+len("upload on "):]
	_, outcome, ok := strings.Cut(rest, " ")
	return ok && (strings.HasPrefix(outcome, UploadInvalid+": ") || strings.HasPrefix(outcome, UploadRefused+": "))
}
