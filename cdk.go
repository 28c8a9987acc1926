// Command cdk is the FleetApi CDK app: it synthesizes the stack of the stage
// named by `--context stage=NAME` (default dev), as cdk.json declares it.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/fleetstack"
)

func main() {
	app := awscdk.NewApp(nil)
	if _, err := fleetstack.FromContext(app); err != nil {
		jsii.Close()
		fmt.Fprintf(os.Stderr, "fleetapi: %v\n", err)
		os.Exit(1)
	}
	app.Synth(nil)
	jsii.Close()
}
