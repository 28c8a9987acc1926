// Package historyapp is the history writer's cold start: its environment,
// its S3 and SQS clients, its handler. A binary of its own
// (lambdas/history), so that the API's functions link no Parquet and no S3.
package historyapp

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/history"
	"github.com/fleetapi/fleetapi/internal/runtime/lambdaapp"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// Run builds the writer from the function's environment and serves it
// as every function is served (lambdaapp.Serve).
func Run() {
	lambdaapp.Serve(func(getenv func(string) string, logger *slog.Logger) (any, error) {
		w, err := Build(getenv, logger)
		if err != nil {
			return nil, err
		}
		return w.Invoke, nil
	})
}

// Build wires the history writer from its environment: the
// bucket and the failure queue. It decodes the events table's stream and
// calls no table.
func Build(getenv func(string) string, logger *slog.Logger) (*history.Writer, error) {
	if serves := getenv(contract.EnvServes); serves != contract.ServesHistory {
		return nil, fmt.Errorf("%s %q: this binary serves %s only", contract.EnvServes, serves, contract.ServesHistory)
	}
	var missing []string
	for _, name := range []string{contract.EnvHistoryBucket, contract.EnvHistoryFailures} {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing environment variables %v", missing)
	}
	cfg, err := lambdaapp.AWSConfig(getenv)
	if err != nil {
		return nil, err
	}
	objects := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// A local endpoint (a test's) has no bucket host names.
		o.BaseEndpoint = lambdaapp.Endpoint(getenv, "S3")
		o.UsePathStyle = o.BaseEndpoint != nil
	})
	queue := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = lambdaapp.Endpoint(getenv, "SQS") })
	return &history.Writer{
		Objects:  history.Bucket{S3: objects, Name: getenv(contract.EnvHistoryBucket)},
		Failures: history.Queue{SQS: queue, URL: getenv(contract.EnvHistoryFailures)},
		Decoder:  dynamostore.NewEventCodec(), Prefix: contract.HistoryPrefix, Logger: logger,
	}, nil
}
