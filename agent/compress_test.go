package agent

import (
	"bytes"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// The agent's compression is the server's contract: the bytes the cost
// model prices (contract.GzipUpload) and what the ingest function inflates
// back into the batch's JSON.
func TestPayloadIsCompressedAsTheServerReadsIt(t *testing.T) {
	payload, err := Batch{Samples: samples(10, time.Now().Add(-time.Hour))}.Payload()
	if err != nil {
		t.Fatal(err)
	}
	z := gzipPayload(payload)
	if !bytes.Equal(z, contract.GzipUpload(payload)) {
		t.Error("the agent's gzip differs from contract.GzipUpload's")
	}
	if !contract.IsGzip(z) || len(z) >= len(payload) {
		t.Errorf("%d bytes compressed to %d", len(payload), len(z))
	}
	back, err := contract.InflateUpload(z, MaxPayloadBytes)
	if err != nil || !bytes.Equal(back, payload) {
		t.Errorf("inflated: %v, equal %v", err, bytes.Equal(back, payload))
	}
}
