// Package workload generates the telemetry of the talk's cost model: a
// vehicle driving 40 minutes a day, one sample of about 520 bytes a second,
// uploaded ten samples per API call. Tests, benchmarks and load tools use it.
package workload

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// The talk's workload, per vehicle.
const (
	DrivingPerDay     = 40 * time.Minute
	SampleInterval    = time.Second
	SamplesPerUpload  = 10
	SamplesPerDay     = int(DrivingPerDay / SampleInterval) // 2,400
	UploadsPerDay     = SamplesPerDay / SamplesPerUpload    // 240
	CustomSignalName  = "Vehicle.Private.InverterTemperature"
	approxSampleBytes = 520
)

// Drive simulates one vehicle's trip; each call to Upload continues it.
type Drive struct {
	rng      *rand.Rand
	at       time.Time
	speed    float64
	odometer float64
	lat, lon float64
	soc      float64
}

// NewDrive starts a trip at start, deterministic for a seed.
func NewDrive(seed uint64, start time.Time) *Drive {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &Drive{
		rng:      rng,
		at:       start.UTC().Truncate(time.Second),
		speed:    30 + 40*rng.Float64(),
		odometer: 10_000 + 50_000*rng.Float64(),
		lat:      48.1 + rng.Float64()/10,
		lon:      11.5 + rng.Float64()/10,
		soc:      60 + 30*rng.Float64(),
	}
}

// Upload returns the next n samples of the trip, one per SampleInterval.
func (d *Drive) Upload(n int) fleet.Upload {
	up := fleet.Upload{Samples: make([]fleet.Sample, n)}
	for i := range up.Samples {
		d.speed = math.Max(0, math.Min(130, d.speed+d.rng.NormFloat64()*2))
		km := d.speed / 3600
		d.odometer += km
		d.lat += km / 111 * 0.7
		d.lon += km / 74 * 0.7
		d.soc = math.Max(0, d.soc-km*0.15)
		up.Samples[i] = fleet.Sample{
			Timestamp: d.at,
			Signals: map[string]float64{
				fleet.SignalSpeed:          round(d.speed, 1),
				fleet.SignalTraveled:       round(d.odometer, 3),
				fleet.SignalLatitude:       round(d.lat, 6),
				fleet.SignalLongitude:      round(d.lon, 6),
				fleet.SignalStateOfCharge:  round(d.soc, 2),
				fleet.SignalAltitude:       round(520+d.rng.Float64()*3, 1),
				fleet.SignalHeading:        round(42+d.rng.NormFloat64()*5, 1),
				fleet.SignalAirTemperature: 11.5,
				fleet.SignalBatteryVoltage: round(355+d.rng.Float64()*5, 1),
				CustomSignalName:           round(55+d.rng.Float64()*2, 1),
			},
		}
		d.at = d.at.Add(SampleInterval)
	}
	return up
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
