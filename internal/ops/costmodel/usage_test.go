package costmodel

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestUsageFileOverridesDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.yaml")
	if err := os.WriteFile(path, []byte("samplesPerUpload: 60\ndurationMs:\n  createEvent: 20\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := LoadUsage(path)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultUsage()
	if u.SamplesPerUpload != 60 || u.DurationMsByOperationID["createEvent"] != 20 {
		t.Errorf("overrides not read: %d samples, createEvent %g ms", u.SamplesPerUpload, u.DurationMsByOperationID["createEvent"])
	}
	// What the file does not name keeps its default, in a map too.
	if u.DrivingMinutesPerDay != d.DrivingMinutesPerDay || u.DurationMsByOperationID["listEvents"] != d.DurationMsByOperationID["listEvents"] {
		t.Errorf("defaults lost: %+v", u)
	}
	if got := u.UploadsPerDay(); got != 40 {
		t.Errorf("UploadsPerDay = %g, want 40 (2,400 samples / 60)", got)
	}
	// The talk's workload: 40 minutes, a sample a second, 10 a call.
	if got := d.UploadsPerDay(); got != 240 {
		t.Errorf("default UploadsPerDay = %g, want 240", got)
	}
	if empty, err := LoadUsage(""); err != nil || empty.SamplesPerUpload != d.SamplesPerUpload {
		t.Errorf("no usage file: %v", err)
	}
}

func TestUsageFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, content, want string }{
		{"malformed", "samplesPerUpload: [10\n", "usage.yaml"},
		{"unknown figure", "samplesPerUplaod: 60\n", "field samplesPerUplaod not found"},
		{"out of range", "samplesPerUpload: 101\n", "samplesPerUpload 101 is invalid: allowed are whole numbers from 1 to 100"},
		{"not a number", "drivingMinutesPerDay: lots\n", "usage.yaml"},
		{"unknown operation", "durationMs:\n  deleteVehicle: 5\n", `durationMs: "deleteVehicle" is not an operation`},
		{"days", "daysPerMonth: 7\n", "daysPerMonth 7 is invalid: allowed are numbers from 28 to 31"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "usage.yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadUsage(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("got %v, want an error naming %s with %q", err, path, tt.want)
			}
		})
	}
	if _, err := LoadUsage(filepath.Join(dir, "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("a missing usage file: %v", err)
	}
}

// The example usage file in the repository is valid and says the defaults.
func TestUsageExampleIsTheDefault(t *testing.T) {
	u, err := LoadUsage("../../../cost/usage-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultUsage()
	if !reflect.DeepEqual(u, d) {
		t.Errorf("cost/usage-example.yaml differs from DefaultUsage:\n%+v\n%+v", u, d)
	}
	data, err := os.ReadFile("../../../cost/usage-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"drivingMinutesPerDay", "samplesPerSecond", "samplesPerUpload", "daysPerMonth", "vehicleReadsPerDay", "dayReadsPerDay",
		"eventReadsPerDay", "fleetListingsPerDay", "vehicleUpdatesPerMonth", "responseHeaderBytes", "coldStartsPerMillion", "initMs", "peakToAverage", "durationMs"} {
		if !strings.Contains(string(data), key+":") {
			t.Errorf("cost/usage-example.yaml does not document %s", key)
		}
	}
}
