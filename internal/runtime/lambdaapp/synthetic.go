package lambdaapp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/synthetic"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
	"github.com/fleetapi/fleetapi/internal/vehicleconn"
)

// SyntheticEnv is the synthetic vehicle function's configuration.
type SyntheticEnv struct {
	VID, SecretArn, APIURL, CredentialsEndpoint, DataEndpoint, RoleAlias, VehicleRole, Topic, Region string
}

// ReadSyntheticEnv reads and checks the synthetic vehicle's environment.
func ReadSyntheticEnv(getenv func(string) string) (SyntheticEnv, error) {
	e := SyntheticEnv{VID: getenv(contract.EnvSyntheticVID), SecretArn: getenv(contract.EnvSyntheticSecret), APIURL: getenv(contract.EnvAPIURL),
		CredentialsEndpoint: getenv(contract.EnvCredentialsEndpoint), DataEndpoint: getenv(contract.EnvDataEndpoint), RoleAlias: getenv(contract.EnvRoleAlias),
		VehicleRole: getenv(contract.EnvVehicleRole), Topic: getenv(contract.EnvUploadTopic), Region: getenv(EnvRegion)}
	var missing []string
	for name, v := range map[string]string{contract.EnvSyntheticVID: e.VID, contract.EnvSyntheticSecret: e.SecretArn, contract.EnvAPIURL: e.APIURL,
		contract.EnvCredentialsEndpoint: e.CredentialsEndpoint, contract.EnvDataEndpoint: e.DataEndpoint, contract.EnvRoleAlias: e.RoleAlias,
		contract.EnvVehicleRole: e.VehicleRole, contract.EnvUploadTopic: e.Topic, EnvRegion: e.Region} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return SyntheticEnv{}, fmt.Errorf("missing environment variables %v", missing)
	}
	if !contract.IsSyntheticVID(e.VID) {
		return SyntheticEnv{}, fmt.Errorf("%s %q: a synthetic vehicle's vid begins with %s", contract.EnvSyntheticVID, e.VID, contract.SyntheticVIDPrefix)
	}
	return e, nil
}

// SyntheticHandler runs the synthetic vehicle on each scheduled event and
// logs its steps' metrics. Its certificate is read from the secret once,
// and again after a run that failed to get credentials (a replaced
// certificate).
type SyntheticHandler struct {
	env     SyntheticEnv
	secrets secretGetter
	reader  aws.CredentialsProvider
	logger  *slog.Logger
	// settle bounds the read-back's wait, stepTimeout each step: a run
	// ends well within the function's timeout and the schedule's minute.
	settle, stepTimeout time.Duration

	mu   sync.Mutex
	cert *tls.Certificate
}

// NewSyntheticHandler is the synthetic vehicle's handler; reader is the
// function's own identity, granted fleet-read.
func NewSyntheticHandler(env SyntheticEnv, secrets secretGetter, reader aws.CredentialsProvider, logger *slog.Logger) *SyntheticHandler {
	return &SyntheticHandler{env: env, secrets: secrets, reader: reader, logger: logger, settle: 15 * time.Second, stepTimeout: 5 * time.Second}
}

// Invoke runs the synthetic vehicle once. A failed run is its metrics',
// not an error of the invocation: the schedule's next run is the retry.
func (h *SyntheticHandler) Invoke(ctx context.Context, _ json.RawMessage) error {
	report := h.run(ctx)
	synthetic.Log(h.logger, h.env.VID, time.Now(), report)
	if failed, ok := report.Failed(); ok && failed.Step == metrics.StepCredentials {
		h.mu.Lock()
		h.cert = nil
		h.mu.Unlock()
	}
	return nil
}

func (h *SyntheticHandler) run(ctx context.Context) synthetic.Report {
	t0 := time.Now()
	cert, err := h.certificate(ctx)
	if err != nil {
		// Its certificate is the first thing the first step needs.
		return synthetic.Report{{Step: metrics.StepCredentials, Latency: time.Since(t0), Err: err}, {Step: metrics.StepRun, Latency: time.Since(t0)}}
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	chain, err := synthetic.NewChain(h.env.CredentialsEndpoint, h.env.RoleAlias, h.env.VID, h.env.VehicleRole, h.env.Region, "", tlsConfig)
	if err != nil {
		return synthetic.Report{{Step: metrics.StepCredentials, Latency: time.Since(t0), Err: err}, {Step: metrics.StepRun, Latency: time.Since(t0)}}
	}
	addr, host := vehicleconn.MQTTEndpoint(h.env.DataEndpoint)
	mqttTLS := tlsConfig.Clone()
	mqttTLS.ServerName = host
	return synthetic.Run(ctx, synthetic.Config{VID: h.env.VID, Chain: chain, APIURL: h.env.APIURL, MQTTAddr: addr, MQTTTLS: mqttTLS, Topic: h.env.Topic,
		Reader: h.reader, Region: h.env.Region, StepTimeout: h.stepTimeout, Settle: h.settle})
}

// certificate reads the synthetic vehicle's certificate and key from its
// secret, once.
func (h *SyntheticHandler) certificate(ctx context.Context) (*tls.Certificate, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cert != nil {
		return h.cert, nil
	}
	out, err := h.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(h.env.SecretArn)})
	if err != nil {
		return nil, fmt.Errorf("read the synthetic vehicle's secret: %w", err)
	}
	var s synthetic.Secret
	if out.SecretString == nil || json.Unmarshal([]byte(*out.SecretString), &s) != nil || s.CertificatePEM == "" || s.PrivateKeyPEM == "" {
		return nil, errors.New("the synthetic vehicle's secret holds no certificate and key: is its custom resource created?")
	}
	cert, err := tls.X509KeyPair([]byte(s.CertificatePEM), []byte(s.PrivateKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("the synthetic vehicle's secret: %w", err)
	}
	h.cert = &cert
	return h.cert, nil
}

// BuildProvisioner is the synthetic vehicle's custom resource, its SDK
// clients from the function's environment.
func BuildProvisioner(getenv func(string) string) (*synthetic.Provisioner, error) {
	cfg, err := AWSConfig(getenv)
	if err != nil {
		return nil, err
	}
	tables := dynamostore.Tables{Vehicles: getenv(contract.EnvVehiclesTable), Events: getenv(contract.EnvEventsTable)}
	db := dynamodb.NewFromConfig(cfg, dynamostore.BoundedAttempts, func(o *dynamodb.Options) { o.BaseEndpoint = Endpoint(getenv, "DYNAMODB") })
	store, err := dynamostore.NewWithCursorKey(db, tables, nil)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", contract.EnvVehiclesTable, contract.EnvEventsTable, err)
	}
	return &synthetic.Provisioner{
		IoT:      iot.NewFromConfig(cfg, func(o *iot.Options) { o.BaseEndpoint = Endpoint(getenv, "IOT") }),
		Secrets:  secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = Endpoint(getenv, "SECRETS_MANAGER") }),
		Vehicles: store,
	}, nil
}
