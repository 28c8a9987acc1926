// Command events is the FleetApi function that serves the operations
// api/swagger.yaml gives "events" (the construct passes their IDs in FLEETAPI_OPERATIONS).
package main

import "github.com/fleetapi/fleetapi/internal/lambdaapp"

func main() {
	lambdaapp.Run("events")
}
