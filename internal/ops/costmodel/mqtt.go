package costmodel

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// mqttVID is a vid of a VIN's 17 characters, as the topics carry it.
const mqttVID = "WBA00000000000017"

// MqttUploadBytes is what IoT Core meters of an upload of n samples of the
// talk's workload over MQTT as the agent publishes it: the message (the
// upload body gzip-compressed, and its Basic Ingest topic) and the event
// the upload rule's SQL hands the Lambda action (contract.RuleEvent, the
// payload base64).
func MqttUploadBytes(n int) (message, event int) {
	upload, err := json.Marshal(workload.NewDrive(1, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)).Upload(n))
	if err != nil {
		panic(err) // a fleet.Upload always marshals
	}
	body := contract.GzipUpload(upload)
	topic := contract.BasicIngestTopic("FleetApi_prod_Fleet_Uploads", mqttVID)
	ev, err := json.Marshal(contract.RuleEvent{
		Source: contract.RuleEventSource, Topic: contract.UploadTopic(mqttVID), VID: mqttVID, ClientID: mqttVID,
		Payload: base64.StdEncoding.EncodeToString(body), ReceivedAt: 1764144000000,
	})
	if err != nil {
		panic(err)
	}
	return len(body) + len(topic), len(ev)
}
