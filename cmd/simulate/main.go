// Command simulate drives a fleet against the API (package simulate): `make
// simulate VEHICLES=N MINUTES=M SPEEDUP=X`, against make local by default.
// Every vehicle calls with its own identity: a certificate, the
// credentials it gets, the vehicle role's session as itself.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetapi/fleetapi/agent"
	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/bench/simulate"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:3000", "the API: make local's, or a stage's URL (the stack output ApiUrl)")
	vehicles := flag.Int("vehicles", 10, "vehicles in the fleet (make local's: registered anew each run)")
	minutes := flag.Float64("minutes", 5, "minutes of driving per vehicle")
	speedup := flag.Float64("speedup", 60, "how much faster than real time")
	region := flag.String("region", "", "the API's Region, when the URL does not say it")
	credentialsURL := flag.String("credentials-url", "https://127.0.0.1:3001", "the vehicles' credentials endpoint: make local's, or the account's (aws iot describe-endpoint --endpoint-type iot:CredentialProvider)")
	ca := flag.String("ca", ".local/iot/ca.pem", "CA of the credentials endpoint (make local's); \"\" for the system's roots")
	roleAlias := flag.String("role-alias", localauth.RoleAlias, "the role alias (stack output VehicleRoleAlias)")
	vehicleRole := flag.String("vehicle-role-arn", localauth.VehicleRole, "the vehicle role (stack output VehicleRoleArn)")
	certs := flag.String("certs", "", "a deployed stage's fleet: a directory of VID.crt and VID.key, one pair per registered thing")
	protocols := flag.String("protocol", "https", "how the vehicles upload: https, mqtt, or both in turn (https,mqtt), each a run of its own")
	mqttEndpoint := flag.String("mqtt-endpoint", "127.0.0.1:8883", "mqtt: the device data endpoint (aws iot describe-endpoint --endpoint-type iot:Data-ATS), or make local's broker")
	topic := flag.String("topic", contract.BasicIngestTopic(localauth.UploadRule, agent.VIDVariable), "mqtt: the stack output UploadTopic")
	stateEvery := flag.Duration("state-every", time.Second, "how often to read the fleet's state during the run, for its freshness and the fleet view at the end (0: never)")
	stateSettle := flag.Duration("state-settle", 3*time.Minute, "how long, after the last upload, to wait for every vehicle's state to hold its newest sample")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	retries := &atomic.Int64{}
	opts := client.Options{Region: *region, OnRetry: func(int) { retries.Add(1) }}
	id := simulate.Identity{CredentialsEndpoint: *credentialsURL, CAFile: *ca, RoleAlias: *roleAlias, VehicleRoleArn: *vehicleRole,
		MQTTEndpoint: *mqttEndpoint, Topic: *topic}
	var cfg simulate.Config
	admin, reader := opts, opts
	if localauth.IsLocalURL(*url) {
		// make local's own keys and stand-ins, on whichever ports it listens.
		admin.Credentials, admin.Region = credentials.StaticCredentialsProvider{Value: localauth.AdminKeys}, localauth.Region
		reader.Credentials, reader.Region = credentials.StaticCredentialsProvider{Value: localauth.ReaderKeys}, localauth.Region
		id.Region, id.STSEndpoint = localauth.Region, strings.TrimSuffix(*url, "/")+localauth.STSPath
		id.Certificate = func(ctx context.Context, vid string) (tls.Certificate, error) {
			cert, _, err := localauth.Provision(ctx, *url, vid)
			return cert, err
		}
	} else {
		// Your credentials, in a role that may assume the stage's fleet roles.
		if *certs == "" {
			fail(fmt.Errorf("a deployed stage's vehicles need their certificates: pass -certs DIR"))
		}
		vids, err := certificatesIn(*certs)
		if err != nil {
			fail(err)
		}
		cfg.VIDs = vids
		id.Region = *region
		id.Certificate = func(_ context.Context, vid string) (tls.Certificate, error) {
			return tls.LoadX509KeyPair(filepath.Join(*certs, vid+".crt"), filepath.Join(*certs, vid+".key"))
		}
	}
	id.Options = opts
	var err error
	if cfg.Admin, err = client.New(ctx, *url, admin); err != nil {
		fail(err)
	}
	if cfg.Reader, err = client.New(ctx, *url, reader); err != nil {
		fail(err)
	}
	if id.Region == "" {
		id.Region = client.RegionOf(*url)
	}
	cfg.Vehicle, cfg.Publisher = id.Vehicles(*url), id.Publishers()
	cfg.Vehicles, cfg.Driving, cfg.Speedup, cfg.Progress = *vehicles, time.Duration(*minutes*float64(time.Minute)), *speedup, os.Stderr
	cfg.StateEvery, cfg.StateSettle = *stateEvery, *stateSettle
	bad := false
	for p := range strings.SplitSeq(*protocols, ",") {
		retries.Store(0)
		cfg.Protocol, cfg.Retries = p, retries
		r, err := simulate.Run(ctx, cfg)
		if err != nil {
			fail(err)
		}
		fmt.Println(r)
		bad = bad || r.Lost > 0 || r.Duplicated > 0 || r.Failed > 0 || r.StateUnseen > 0
	}
	if bad {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "simulate:", err)
	os.Exit(1)
}

// certificatesIn lists the vids of a directory of VID.crt files.
func certificatesIn(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.crt"))
	if err != nil || len(matches) == 0 {
		return nil, fmt.Errorf("no VID.crt in %s", dir)
	}
	var vids []string
	for _, m := range matches {
		vids = append(vids, strings.TrimSuffix(filepath.Base(m), ".crt"))
	}
	slices.Sort(vids)
	return vids, nil
}
