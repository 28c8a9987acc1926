// Command simulate drives a fleet against the API (package simulate): `make
// simulate VEHICLES=N MINUTES=M SPEEDUP=X`, against make local by default.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/localapi"
	"github.com/fleetapi/fleetapi/internal/simulate"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:3000", "the API: make local's, or a stage's URL (the stack output ApiUrl)")
	vehicles := flag.Int("vehicles", 10, "vehicles in the fleet")
	minutes := flag.Float64("minutes", 5, "minutes of driving per vehicle")
	speedup := flag.Float64("speedup", 60, "how much faster than real time")
	region := flag.String("region", "", "the API's Region, when the URL does not say it")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	retries := &atomic.Int64{}
	opts := client.Options{Region: *region, OnRetry: func(int) { retries.Add(1) }}
	if isLocal(*url) {
		// make local's own credentials, on whichever port it listens.
		opts.Credentials, opts.Region = credentials.StaticCredentialsProvider{Value: localapi.Credentials}, "eu-west-1"
	}
	c, err := client.New(ctx, *url, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
	r, err := simulate.Run(ctx, simulate.Config{Client: c, Vehicles: *vehicles, Driving: time.Duration(*minutes * float64(time.Minute)),
		Speedup: *speedup, Progress: os.Stderr, Retries: retries})
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
	fmt.Println(r)
	if r.Lost > 0 || r.Duplicated > 0 || r.Failed > 0 {
		os.Exit(1)
	}
}

// isLocal says whether the API is make local's, on this machine.
func isLocal(raw string) bool {
	u, err := neturl.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || net.ParseIP(h).IsLoopback()
}
