package synthetic

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// registrationKey makes the registration idempotent: registered again (a
// custom resource retried, make local restarted) it is the same create.
const registrationKey = "fleetapi-synthetic-vehicle-v1"

// Vehicle is the synthetic vehicle vid's registration.
func Vehicle(vid string) fleet.NewVehicle {
	return fleet.NewVehicle{VID: vid, IdempotencyKey: registrationKey, VehicleFields: fleet.VehicleFields{
		Make: "FleetApi", Model: "synthetic vehicle", Year: 2026,
		Metadata: map[string]string{"purpose": "proves every deploy end to end; left out of the fleet's figures"},
	}}
}

// Registry registers vehicles (the vehicles table's store).
type Registry interface {
	CreateVehicle(ctx context.Context, v fleet.NewVehicle, now time.Time) (fleet.CreatedVehicle, error)
}

// Register registers the synthetic vehicle vid, the one way its reserved
// vid is registered (the API refuses it); registered before, it stays.
func Register(ctx context.Context, vehicles Registry, vid string, now time.Time) error {
	if !contract.IsSyntheticVID(vid) {
		return fmt.Errorf("synthetic vehicle %q: its vid must begin with %s", vid, contract.SyntheticVIDPrefix)
	}
	v := Vehicle(vid)
	if err := v.Validate(now); err != nil {
		return fmt.Errorf("synthetic vehicle %s: %w", vid, err)
	}
	if _, err := vehicles.CreateVehicle(ctx, v, now); err != nil {
		return fmt.Errorf("register synthetic vehicle %s: %w", vid, err)
	}
	return nil
}
