package costmodel

import (
	"math"
	"strings"
	"testing"
)

// Prod at 10,000 vehicles with the uploads over MQTT: the REST API serves
// the reads alone, IoT Core bills the connection minutes while driving and
// the rule and its Lambda action per 5 KB of each upload; the goal
// is a steady-state month of at most $350, with prod's PITR and 365-day
// retention kept.
func TestUploadsOverMqtt(t *testing.T) {
	m := prodModel(t)
	rest, err := m.Estimate(10000)
	if err != nil {
		t.Fatal(err)
	}
	m.Usage.UploadsOverMqtt = true
	mqtt, err := m.Estimate(10000)
	if err != nil {
		t.Fatal(err)
	}
	requests, err := m.RequestsByOperation(10000)
	if err != nil {
		t.Fatal(err)
	}
	uploads := requests["createEvent"]
	if math.Abs(rest.Requests-mqtt.Requests-uploads) > 1 {
		t.Errorf("REST requests %v over HTTPS, %v over MQTT: want %v uploads fewer", rest.Requests, mqtt.Requests, uploads)
	}
	msg, ev := MqttUploadBytes(m.Usage.SamplesPerUpload)
	quantities := map[string]float64{}
	for _, l := range mqtt.Lines {
		quantities[l.price] += l.Quantity
	}
	// The synthetic vehicle's run a minute: a connection minute, a message
	// of one increment, whichever way the fleet uploads.
	runs := m.Usage.DaysPerMonth * 24 * 60
	want := map[string]float64{
		PriceIoTConnectivity: 10000*m.Usage.DrivingMinutesPerDay*m.Usage.DaysPerMonth + runs,
		PriceIoTRules:        uploads*math.Ceil(float64(msg)/5120) + runs,
		PriceIoTActions:      uploads*math.Ceil(float64(ev)/5120) + runs,
		PriceRestRequests:    rest.Requests - uploads,
	}
	for price, q := range want {
		if math.Abs(quantities[price]-q) > 1 {
			t.Errorf("%s: %v, want %v", price, quantities[price], q)
		}
	}
	if !m.Stack.Events.PITR || m.Stack.EventRetentionDays != 365 {
		t.Fatalf("prod's template has PITR %v, retention %d", m.Stack.Events.PITR, m.Stack.EventRetentionDays)
	}
	if mqtt.Steady > 350 {
		t.Errorf("prod at 10,000 vehicles over MQTT: $%.2f a month, above the goal of $350", mqtt.Steady)
	}
	t.Logf("prod at 10,000 vehicles: $%.2f over HTTPS, $%.2f over MQTT (REST $%.2f → $%.2f, IoT Core $%.2f); a %d-sample upload is a %d B message (%d × 5 KB) and a %d B rule event (%d × 5 KB)",
		rest.Steady, mqtt.Steady, rest.Service(ServiceAPIGateway), mqtt.Service(ServiceAPIGateway), mqtt.Service(ServiceIoTCore),
		m.Usage.SamplesPerUpload, msg, int(math.Ceil(float64(msg)/5120)), ev, int(math.Ceil(float64(ev)/5120)))

	m.Stack.UploadRule = false
	if _, err := m.Estimate(10000); err == nil || !strings.Contains(err.Error(), "no upload rule") {
		t.Errorf("uploads over MQTT without the rule: %v", err)
	}
}
