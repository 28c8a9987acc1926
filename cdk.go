// Command cdk is the FleetApi CDK app: it synthesizes the stack of the stage
// named by `--context stage=NAME` (default dev), as cdk.json declares it.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/app/fleetstack"
)

func main() { os.Exit(run()) }

// run synthesizes the app; any failure is one line on stderr and exit
// status 1, and no cloud assembly is written.
func run() (code int) {
	defer jsii.Close()
	defer func() {
		// CDK constructors and jsii report errors, a failed function build
		// among them, by panicking.
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "fleetapi: %v\n", r)
			code = 1
		}
	}()
	app := awscdk.NewApp(nil)
	if _, err := fleetstack.FromContext(app); err != nil {
		fmt.Fprintf(os.Stderr, "fleetapi: %v\n", err)
		return 1
	}
	app.Synth(nil)
	return 0
}
