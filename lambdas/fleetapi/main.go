// Command fleetapi is the one binary of every FleetApi function: each
// serves the operations its environment names (FLEETAPI_ROUTES, set by the
// construct from api/swagger.yaml), so one build serves all of them.
package main

import "github.com/fleetapi/fleetapi/internal/runtime/lambdaapp"

func main() {
	lambdaapp.Run()
}
