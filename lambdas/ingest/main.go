// Command ingest is the FleetApi function that serves the operations
// api/swagger.yaml gives "ingest" (the construct passes their IDs in FLEETAPI_OPERATIONS).
package main

import "github.com/fleetapi/fleetapi/internal/lambdaapp"

func main() {
	lambdaapp.Run("ingest")
}
