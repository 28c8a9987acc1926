package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/agent"
	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localapi"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/testutil/faultnet"
	"github.com/fleetapi/fleetapi/internal/testutil/localfleet"
)

var db *dynamodb.Client

// The test binary is the agent too: run with childEnv set, it is the
// command itself, so that a test can kill it and start it again.
const childEnv = "FLEETAPI_AGENT_UNDER_TEST"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

// fleet is make local for one vehicle, with its certificate on disk.
type fleet struct {
	local               *localapi.TestServer
	reader              *client.ClientWithResponses
	vid                 string
	cert, key, ca, jrnl string
}

func newFleet(t *testing.T, vid string) *fleet {
	t.Helper()
	local := localapi.NewTestServerOn(t, db, localapi.Config{EventRetention: 24 * time.Hour})
	localfleet.Register(t, local, vid)
	cert, _ := local.Provision(t, vid)
	dir := t.TempDir()
	f := &fleet{local: local, reader: localfleet.Client(t, local, localauth.ReaderKeys), vid: vid,
		cert: filepath.Join(dir, "car.crt"), key: filepath.Join(dir, "car.key"), ca: filepath.Join(dir, "ca.pem"), jrnl: filepath.Join(dir, "journal")}
	if err := localauth.WriteCertificate(cert, f.cert, f.key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.ca, local.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// child is a running agent and the batches it reported acknowledged.
type child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	mu     sync.Mutex
	acks   []ackLine
	read   chan struct{} // closed once its stdout is read to the end
}

// start runs the agent for the fleet's vehicle, a sample every 5 ms, with
// its endpoints at the proxies' addresses when given.
func (f *fleet) start(t *testing.T, protocol string, via *faultnet.Proxy, extra ...string) *child {
	t.Helper()
	mqttAddr, url := f.local.MQTTAddr, f.local.URL
	if via != nil && protocol == "mqtt" {
		mqttAddr = via.Addr
	}
	if via != nil && protocol == "https" {
		url = "http://" + via.Addr
	}
	args := append([]string{"-vid", f.vid, "-journal", f.jrnl, "-protocol", protocol, "-acks",
		"-sample-interval", "5ms", "-batch", "10", "-flush", "200ms", "-min-backoff", "10ms", "-drain", "20s",
		"-cert", f.cert, "-key", f.key, "-ca", f.ca,
		"-mqtt-endpoint", mqttAddr, "-topic", contract.BasicIngestTopic(localapi.UploadRule, agent.VIDVariable),
		"-url", url, "-credentials-url", f.local.CredentialsURL}, extra...)
	c := &child{cmd: exec.Command(os.Args[0], args...), read: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), childEnv+"=1")
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var a ackLine
			if json.Unmarshal(sc.Bytes(), &a) == nil {
				c.mu.Lock()
				c.acks = append(c.acks, a)
				c.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { c.cmd.Process.Kill() })
	return c
}

func (c *child) acked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acks)
}

// wait waits for the agent to end and its output to be read.
func (c *child) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { <-c.read; done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		c.cmd.Process.Kill()
		t.Fatalf("the agent did not stop in %v; its log:\n%s", timeout, c.stderr.String())
		return nil
	}
}

// stored reads every sample of the vehicle back: how often each timestamp
// is stored.
func (f *fleet) stored(t *testing.T) map[time.Time]int {
	t.Helper()
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	page := &client.ListEventsParams{From: &from, To: &to, Limit: new(client.Limit(100))}
	seen := map[time.Time]int{}
	for {
		res, err := f.reader.ListEventsWithResponse(context.Background(), f.vid, page)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("read back the events: %v %s", err, res.Status())
		}
		for _, e := range res.JSON200.Events {
			for _, s := range e.Samples {
				seen[s.Timestamp.UTC()]++
			}
		}
		if res.JSON200.NextCursor == nil {
			return seen
		}
		page.Cursor = res.JSON200.NextCursor
	}
}

var replayed = regexp.MustCompile(`sending the journal's batches first.*batches=(\d+) samples=(\d+)`)

// kill -9 the agent in the middle of a run, start it again on the same
// journal: every batch it acknowledged before the kill or after the
// restart is stored, each sample once. Before the kill, the answers stop
// reaching the agent (a proxy holds them back) while the server still gets
// and stores its upload: the agent is killed with batches in its journal,
// one of them stored but not acknowledged. After the restart it sends the
// journal first, that one included, which is stored once.
func TestKilledAgentLosesNoAcknowledgedSample(t *testing.T) {
	for _, protocol := range []string{"mqtt", "https"} {
		t.Run(protocol, func(t *testing.T) {
			f := newFleet(t, "car-crash-"+protocol)
			target := f.local.MQTTAddr
			if protocol == "https" {
				target = strings.TrimPrefix(f.local.URL, "http://")
			}
			proxy := faultnet.NewProxy(t, target)
			first := f.start(t, protocol, proxy)
			for deadline := time.Now().Add(20 * time.Second); first.acked() < 20; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("20 batches not acknowledged in 20 s; the agent's log:\n%s", first.stderr.String())
				}
			}
			proxy.StallReplies()
			time.Sleep(500 * time.Millisecond) // ~10 batches sealed meanwhile, none acknowledged
			unacknowledged := len(f.stored(t)) - 10*first.acked()
			if unacknowledged <= 0 {
				t.Fatalf("stored at the kill: %d samples beyond the acknowledged, want the upload whose answer was held back", unacknowledged)
			}
			if err := first.cmd.Process.Signal(os.Kill); err != nil {
				t.Fatal(err)
			}
			first.wait(t, 10*time.Second)

			second := f.start(t, protocol, nil, "-samples", "300")
			if err := second.wait(t, 60*time.Second); err != nil {
				t.Fatalf("the restarted agent: %v; its log:\n%s", err, second.stderr.String())
			}
			m := replayed.FindStringSubmatch(second.stderr.String())
			if m == nil {
				t.Logf("the restarted agent's log:\n%s", second.stderr.String())
			}
			acks := append(append([]ackLine(nil), first.acks...), second.acks...)
			ackedSamples := 0
			for _, a := range acks {
				ackedSamples += a.Samples
			}
			// Over MQTT the rule stores after the PUBACK: wait for it.
			var seen map[time.Time]int
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if seen = f.stored(t); len(seen) >= ackedSamples || time.Now().After(deadline) {
					break
				}
			}
			lost, duplicated, stored := 0, 0, 0
			for _, n := range seen {
				stored += n
				if n > 1 {
					duplicated += n - 1
				}
			}
			for _, a := range acks {
				in := 0
				for ts := range seen {
					if !ts.Before(a.First) && !ts.After(a.Last) {
						in++
					}
				}
				if in < a.Samples {
					lost += a.Samples - in
				}
			}
			replayedBatches := "0"
			if m != nil {
				replayedBatches = m[1] + " batches (" + m[2] + " samples)"
			}
			t.Logf("%s: acknowledged before the kill %d batches (stored, not acknowledged: %d samples), replayed after the restart %s, acknowledged after %d; samples acknowledged %d, stored %d, lost %d, duplicated %d",
				protocol, len(first.acks), unacknowledged, replayedBatches, len(second.acks), ackedSamples, stored, lost, duplicated)
			if lost != 0 || duplicated != 0 {
				t.Errorf("%d acknowledged samples lost, %d stored twice", lost, duplicated)
			}
			n, _ := strconv.Atoi(m1(m))
			if n < 2 || len(second.acks) < 30+n {
				t.Errorf("the restarted agent replayed %d batches and acknowledged %d: want the journal's (at least 2) and its own 30", n, len(second.acks))
			}
			if _, err := os.Stat(f.jrnl); err != nil {
				t.Fatal(err)
			}
			if segs, _ := filepath.Glob(filepath.Join(f.jrnl, "*.journal")); len(segs) != 0 {
				t.Errorf("everything acknowledged, yet the journal keeps %v", segs)
			}
		})
	}
}

func m1(m []string) string {
	if m == nil {
		return "0"
	}
	return m[1]
}

// A vehicle's session can stop being valid before it expires (in AWS its
// sessions revoked with an aws:TokenIssueTime deny; make local restarted):
// the agent's HTTPS uploader gets new credentials once on the 403 and the
// upload goes through at once (it kept the refused credentials up to 55
// minutes). Without RefreshingCredentials the same upload is refused.
func TestHTTPSUploaderGetsNewCredentialsWhenItsSessionEnds(t *testing.T) {
	f := newFleet(t, "car-1")
	ctx := context.Background()
	cert, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		t.Fatal(err)
	}
	o := options{vid: f.vid, url: f.local.URL, credentialsURL: f.local.CredentialsURL, ca: f.ca, roleAlias: localauth.RoleAlias, arn: localauth.VehicleRole}
	up, err := httpsUploader(ctx, o, cert)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	batch := func(seq uint64) agent.Batch {
		var samples []client.Sample
		for i := range 10 {
			samples = append(samples, client.Sample{Timestamp: start.Add(time.Duration(int(seq)*10+i) * time.Second), Signals: map[string]float64{"Vehicle.Speed": 10}})
		}
		return agent.Batch{Seq: seq, Samples: samples}
	}
	if err := up.Upload(ctx, batch(1)); err != nil {
		t.Fatalf("first upload: %v", err)
	}
	if n := f.local.Auth.EndSessions(localauth.VehicleRole); n == 0 {
		t.Fatal("no session ended")
	}
	if err := up.Upload(ctx, batch(2)); err != nil {
		t.Errorf("upload after the session ended: %v, want it sent with new credentials", err)
	}

	// The same, without getting new credentials: refused until they expire.
	creds, err := client.NewVehicleCredentials(client.VehicleOptions{Endpoint: f.local.CredentialsURL, CAFile: f.ca, RoleAlias: localauth.RoleAlias, ThingName: f.vid,
		Certificate: &cert, VehicleRoleArn: localauth.VehicleRole, Region: localauth.Region, STSEndpoint: f.local.STSURL})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(ctx, f.local.URL, client.Options{Credentials: creds, Region: localauth.Region, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := agent.NewHTTPSUploader(c, f.vid)
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Upload(ctx, batch(3)); err != nil {
		t.Fatalf("upload: %v", err)
	}
	f.local.Auth.EndSessions(localauth.VehicleRole)
	if err := plain.Upload(ctx, batch(4)); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("without new credentials: %v, want 403", err)
	}
}
