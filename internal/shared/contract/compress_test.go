package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
)

func TestGzipUploadRoundTrips(t *testing.T) {
	body := []byte(`{"samples":[{"ts":"2026-11-26T08:00:00Z","Vehicle.Speed":42.5}]}`)
	z := GzipUpload(body)
	if !IsGzip(z) {
		t.Fatalf("GzipUpload's output %x does not begin with gzip's magic number", z[:2])
	}
	if again := GzipUpload(body); !bytes.Equal(again, z) {
		t.Error("the same body compressed twice made different bytes")
	}
	got, err := InflateUpload(z, len(body))
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("InflateUpload = %q, %v; want the body back", got, err)
	}
}

// Every way a JSON text can begin (RFC 8259: whitespace, then a value) is
// not gzip, so that an uncompressed upload is never mistaken for one.
func TestJSONIsNeverGzip(t *testing.T) {
	for _, first := range " \t\r\n{[\"-0123456789tfn" {
		if IsGzip([]byte{byte(first), 0x8b}) {
			t.Errorf("a payload beginning with %q is taken for gzip", first)
		}
	}
	if IsGzip([]byte{0x1f}) || IsGzip(nil) {
		t.Error("a payload shorter than the magic number is taken for gzip")
	}
}

func TestInflateUploadRefusesWhatIsNotAnUpload(t *testing.T) {
	body := []byte(`{"samples":[]}`)
	z := GzipUpload(body)
	corrupt := bytes.Clone(z)
	corrupt[len(corrupt)-5] ^= 0xff // the CRC-32 of the data
	bomb := GzipUpload(bytes.Repeat([]byte{' '}, 16<<20))
	for name, c := range map[string]struct {
		payload []byte
		limit   int
		want    string
	}{
		"truncated":       {z[:len(z)-4], 1 << 10, "not valid gzip"},
		"bad checksum":    {corrupt, 1 << 10, "not valid gzip"},
		"trailing bytes":  {append(bytes.Clone(z), '{', '}'), 1 << 10, "not valid gzip"},
		"not gzip at all": {body, 1 << 10, "not valid gzip"},
		"past the limit":  {z, len(body) - 1, "inflates past the limit"},
		"16 MB of spaces": {bomb, 128 << 10, "inflates past the limit of 131072 bytes"},
	} {
		_, err := InflateUpload(c.payload, c.limit)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if strings.Contains(c.want, "limit") && !errors.Is(err, ErrInflatedTooLarge) {
			t.Errorf("%s: %v is not ErrInflatedTooLarge", name, err)
		}
	}
	if len(bomb) > 32<<10 {
		t.Fatalf("the bomb is %d bytes: the test wants one far smaller than the limit", len(bomb))
	}
}

// What compression costs the agent and the ingest function on the talk's
// 10-sample upload (make bench; docs/performance.md).
func BenchmarkUploadCompression(b *testing.B) {
	body, err := json.Marshal(workload.NewDrive(1, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)).Upload(10))
	if err != nil {
		b.Fatal(err)
	}
	z := GzipUpload(body)
	b.Run("gzip", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			GzipUpload(body)
		}
	})
	b.Run("inflate", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := InflateUpload(z, 128<<10); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(z)), "compressed-bytes")
	})
}
