// Command redrive stores the uploads over MQTT a stage could not store
// (package redrive): from its failure queue, with your AWS credentials
// (sqs:ReceiveMessage and sqs:DeleteMessage on the queue,
// lambda:InvokeFunction on the ingest function),
//
//	go run ./cmd/redrive -queue-url URL -function NAME
//
// (the stack outputs UploadFailureQueueUrl and IngestFunctionName), or
// from make local's dead-letter file, through make local's ingest function:
//
//	go run ./cmd/redrive -dead-letters .local/iot/upload-failures.jsonl
//
// A message no retry can store (not a failure record, or one the function
// refuses as invalid or not the vehicle's) is set aside, with its reason,
// in -set-aside, then deleted. It exits 1 when a message a later run may
// store is left (the function failed again), 0 when none is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/ops/redrive"
)

type options struct {
	queueURL, deadLetters, function, region string
	url, lambdaEndpoint, sqsEndpoint        string
	setAside                                string
}

func main() {
	var o options
	flag.StringVar(&o.queueURL, "queue-url", "", "the stage's failure queue (stack output UploadFailureQueueUrl)")
	flag.StringVar(&o.deadLetters, "dead-letters", "", "make local's dead-letter file (.local/iot/upload-failures.jsonl) instead of a queue")
	flag.StringVar(&o.function, "function", "", "the ingest function and its alias, NAME:live (NAME the stack output IngestFunctionName; make local's: local-ingest)")
	flag.StringVar(&o.region, "region", "", "the stage's Region (default: the queue URL's, else your configuration's)")
	flag.StringVar(&o.url, "url", "http://127.0.0.1:3000", "with -dead-letters: make local's API, which invokes its functions")
	flag.StringVar(&o.lambdaEndpoint, "lambda-endpoint", "", "Lambda's endpoint, when not the Region's (make local's: URL/_local/lambda)")
	flag.StringVar(&o.sqsEndpoint, "sqs-endpoint", "", "SQS's endpoint, when not the Region's")
	flag.StringVar(&o.setAside, "set-aside", "", "where what no retry stores is set aside, a JSON line each (default: beside -dead-letters, upload-failures.set-aside.jsonl; with -queue-url, redrive-set-aside.jsonl here)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
	if r.Left() > 0 {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) (redrive.Report, error) {
	if (o.queueURL == "") == (o.deadLetters == "") {
		return redrive.Report{}, errors.New("pass -queue-url (a stage's failure queue) or -dead-letters (make local's file)")
	}
	if o.deadLetters != "" {
		if o.function == "" {
			o.function = "local-ingest"
		}
		if o.lambdaEndpoint == "" {
			o.lambdaEndpoint = strings.TrimSuffix(o.url, "/") + localauth.LambdaPath
		}
	}
	if o.function == "" {
		return redrive.Report{}, errors.New("-function is required: the stack output IngestFunctionName")
	}
	if o.region == "" {
		o.region = regionOf(o.queueURL)
	}
	var loads []func(*config.LoadOptions) error
	if o.region != "" {
		loads = append(loads, config.WithRegion(o.region))
	}
	if localauth.IsLocalURL(o.lambdaEndpoint) {
		// make local's functions take its operator's keys.
		loads = append(loads, config.WithRegion(localauth.Region),
			config.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: localauth.OperatorKeys}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return redrive.Report{}, err
	}
	fn := lambda.NewFromConfig(cfg, func(l *lambda.Options) {
		if o.lambdaEndpoint != "" {
			l.BaseEndpoint = aws.String(o.lambdaEndpoint)
		}
	})
	var q redrive.Queue
	var file *redrive.FileQueue
	if o.deadLetters != "" {
		if file, err = redrive.OpenFile(o.deadLetters); err != nil {
			return redrive.Report{}, err
		}
		q = file
	} else {
		q = &redrive.SQSQueue{URL: o.queueURL, Client: sqs.NewFromConfig(cfg, func(s *sqs.Options) {
			if o.sqsEndpoint != "" {
				s.BaseEndpoint = aws.String(o.sqsEndpoint)
			}
		})}
	}
	if o.setAside == "" {
		o.setAside = "redrive-set-aside.jsonl"
		if o.deadLetters != "" {
			o.setAside = filepath.Join(filepath.Dir(o.deadLetters), "upload-failures.set-aside.jsonl")
		}
	}
	r, err := redrive.Run(ctx, q, redrive.LambdaInvoke(fn, o.function), redrive.FileAside(o.setAside))
	if file != nil {
		err = errors.Join(err, file.Close())
	}
	fmt.Fprintln(out, r)
	ids := make([]string, 0, len(r.Reasons))
	for id := range r.Reasons {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(out, "  %s: %.300s\n", id, r.Reasons[id])
	}
	if r.SetAside > 0 {
		fmt.Fprintf(out, "set aside in %s: read them, then delete them\n", o.setAside)
	}
	return r, err
}

// regionOf is the Region of an SQS queue URL,
// https://sqs.REGION.amazonaws.com/ACCOUNT/NAME; "" for another URL.
func regionOf(url string) string {
	host, ok := strings.CutPrefix(url, "https://sqs.")
	if !ok {
		return ""
	}
	region, _, _ := strings.Cut(host, ".")
	return region
}
