package workload

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// The talk's figures: 40 minutes of driving, a sample a second, ten an
// upload.
func TestTheTalksWorkload(t *testing.T) {
	if SamplesPerDay != 2400 || UploadsPerDay != 240 {
		t.Errorf("%d samples and %d uploads a day, want 2,400 and 240", SamplesPerDay, UploadsPerDay)
	}
}

// A trip is deterministic for its seed, continues where it stopped, one
// sample a second, and every upload is one the API stores: the store's
// validation accepts it.
func TestDrive(t *testing.T) {
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	a, b := NewDrive(7, start), NewDrive(7, start)
	first, same := a.Upload(SamplesPerUpload), b.Upload(SamplesPerUpload)
	if !reflect.DeepEqual(first, same) {
		t.Error("two trips of one seed differ")
	}
	if reflect.DeepEqual(first, NewDrive(8, start).Upload(SamplesPerUpload)) {
		t.Error("two seeds drive the same trip")
	}
	next := a.Upload(SamplesPerUpload)
	if got := next.Samples[0].Timestamp.Sub(first.Samples[SamplesPerUpload-1].Timestamp); got != SampleInterval {
		t.Errorf("the next upload starts %v after the last sample, want %v", got, SampleInterval)
	}
	for _, up := range []fleet.Upload{first, next} {
		if _, err := fleet.NewEvent("car-1", up, "", start.Add(time.Hour), 30*24*time.Hour); err != nil {
			t.Errorf("an upload of the workload is refused: %v", err)
		}
		for _, s := range up.Samples {
			if v := s.Signals[fleet.SignalSpeed]; v < 0 || v > 130 {
				t.Errorf("speed %v out of 0 to 130 km/h", v)
			}
		}
	}
	// About the talk's 520 bytes a sample, as JSON.
	body, _ := json.Marshal(first)
	if per := len(body) / SamplesPerUpload; per < approxSampleBytes/2 || per > approxSampleBytes*2 {
		t.Errorf("%d bytes a sample, want about %d", per, approxSampleBytes)
	}
}
