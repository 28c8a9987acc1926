// Command history is the history writer's binary: the events table's
// stream into the history bucket as Parquet. Apart from the API's one
// binary (lambdas/fleetapi), which then links no Parquet and no S3.
package main

import "github.com/fleetapi/fleetapi/internal/runtime/historyapp"

func main() {
	historyapp.Run()
}
