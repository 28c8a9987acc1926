// Command ingest is the FleetApi function that serves the ingest operations
// (see httpapi.Operations).
package main

import (
	"github.com/fleetapi/fleetapi/internal/httpapi"
	"github.com/fleetapi/fleetapi/internal/lambdaapp"
)

func main() {
	lambdaapp.Run(httpapi.FunctionIngest)
}
