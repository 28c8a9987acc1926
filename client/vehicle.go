package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// VehicleTag is the session tag of the vehicle role that names the vid
// (the construct's trust policy requires it, equal to the session name).
const VehicleTag = "vid"

// VehicleOptions say how a vehicle gets credentials from its X.509
// certificate: the stack outputs VehicleRoleAlias and VehicleRoleArn, the
// account's credentials endpoint, and the certificate registered for the
// vehicle's thing.
type VehicleOptions struct {
	// Endpoint is the account's credentials provider, the endpointAddress
	// of `aws iot describe-endpoint --endpoint-type iot:CredentialProvider`
	// (https:// may be left out), or the local one of make local.
	Endpoint string
	// RoleAlias is the stack output VehicleRoleAlias.
	RoleAlias string
	// ThingName is the vehicle's thing, its vid.
	ThingName string
	// CertFile and KeyFile are the vehicle certificate and its private key,
	// PEM; or Certificate holds them.
	CertFile, KeyFile string
	Certificate       *tls.Certificate
	// CAFile is the PEM of the CA the endpoint's certificate chains to.
	// Default: the system's roots (Amazon Root CA 1 for AWS IoT Core).
	CAFile string
	// VehicleRoleArn is the stack output VehicleRoleArn.
	VehicleRoleArn string
	// Region of the stack; STSEndpoint overrides STS's regional endpoint
	// (make local's).
	Region, STSEndpoint string
	// Duration of the vehicle's session: at most one hour, the limit of a
	// role assumed with a role's credentials. Default: one hour.
	Duration time.Duration
	// RefreshBefore is how long before they expire the credentials are
	// got anew. Default: 5 minutes.
	RefreshBefore time.Duration
	// HTTPClient's Timeout and CheckRedirect are kept for the credentials
	// request; its transport is not (one with the certificate is used).
	// Default: a 10 s timeout.
	HTTPClient *http.Client
}

// NewVehicleCredentials returns the credentials of a vehicle, got from its
// certificate and refreshed before they expire: the AWS IoT Core
// credentials provider exchanges the certificate (mutual TLS), naming the
// thing, for credentials of the certificate role; with them, STS
// AssumeRole starts the vehicle's session of the vehicle role, the thing
// name as session name and as tag vid, the only session those credentials
// may start. Requests signed with the result act for that vehicle alone.
func NewVehicleCredentials(o VehicleOptions) (aws.CredentialsProvider, error) {
	if o.Endpoint == "" || o.RoleAlias == "" || o.ThingName == "" || o.VehicleRoleArn == "" || o.Region == "" {
		return nil, errors.New("vehicle credentials need Endpoint, RoleAlias, ThingName, VehicleRoleArn and Region")
	}
	if o.Duration == 0 {
		o.Duration = time.Hour
	}
	if o.Duration < 15*time.Minute || o.Duration > time.Hour {
		return nil, fmt.Errorf("vehicle credentials: Duration %v: allowed are 15 minutes to 1 hour (a role assumed with a role's credentials)", o.Duration)
	}
	tlsConfig, err := VehicleTLS(o.Certificate, o.CertFile, o.KeyFile, o.CAFile)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if o.HTTPClient != nil {
		hc = &http.Client{Timeout: o.HTTPClient.Timeout, CheckRedirect: o.HTTPClient.CheckRedirect}
	}
	hc.Transport = &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: false}
	endpoint := o.Endpoint
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	p := &vehicleProvider{o: o, http: hc, url: strings.TrimSuffix(endpoint, "/") + "/role-aliases/" + url.PathEscape(o.RoleAlias) + "/credentials"}
	// Refreshed before they expire, so that a request is never signed with
	// credentials about to lapse.
	window := o.RefreshBefore
	if window == 0 {
		window = 5 * time.Minute
	}
	return aws.NewCredentialsCache(p, func(c *aws.CredentialsCacheOptions) { c.ExpiryWindow = window }), nil
}

// VehicleTLS is the TLS configuration of a vehicle's mutual TLS with an
// AWS IoT Core endpoint (the credentials provider, the device data
// endpoint): its certificate (cert, or certFile and keyFile, PEM) and the
// CA the endpoint chains to (caFile, PEM; "" for the system's roots,
// Amazon Root CA 1 for IoT Core).
func VehicleTLS(cert *tls.Certificate, certFile, keyFile, caFile string) (*tls.Config, error) {
	if cert == nil {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("vehicle certificate: %w", err)
		}
		cert = &c
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("vehicle CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("vehicle CA %s: no PEM certificate", caFile)
		}
	}
	return cfg, nil
}

type vehicleProvider struct {
	o    VehicleOptions
	http *http.Client
	url  string
}

// Retrieve gets the certificate role's credentials, then the vehicle's.
func (p *vehicleProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	cert, err := p.certificateCredentials(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	client := sts.New(sts.Options{Region: p.o.Region, Credentials: credentials.StaticCredentialsProvider{Value: cert}}, func(opts *sts.Options) {
		if p.o.STSEndpoint != "" {
			opts.BaseEndpoint = aws.String(p.o.STSEndpoint)
		}
	})
	out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(p.o.VehicleRoleArn), RoleSessionName: aws.String(p.o.ThingName),
		Tags:            []ststypes.Tag{{Key: aws.String(VehicleTag), Value: aws.String(p.o.ThingName)}},
		DurationSeconds: aws.Int32(int32(p.o.Duration / time.Second)),
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("vehicle %s: assume the vehicle role: %w", p.o.ThingName, err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil {
		return aws.Credentials{}, fmt.Errorf("vehicle %s: STS answered no credentials", p.o.ThingName)
	}
	return aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken,
		CanExpire: true, Expires: *c.Expiration, Source: "FleetApiVehicle"}, nil
}

// certificateCredentials asks the credentials provider, over mutual TLS,
// for the certificate role's credentials, naming the thing.
func (p *vehicleProvider) certificateCredentials(ctx context.Context) (aws.Credentials, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return aws.Credentials{}, err
	}
	req.Header.Set("x-amzn-iot-thingname", p.o.ThingName)
	resp, err := p.http.Do(req)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("vehicle %s: credentials provider: %w", p.o.ThingName, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return aws.Credentials{}, fmt.Errorf("vehicle %s: credentials provider answered %s: %.200s", p.o.ThingName, resp.Status, body)
	}
	var doc struct {
		Credentials struct {
			AccessKeyID     string    `json:"accessKeyId"`
			SecretAccessKey string    `json:"secretAccessKey"`
			SessionToken    string    `json:"sessionToken"`
			Expiration      time.Time `json:"expiration"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Credentials.AccessKeyID == "" {
		return aws.Credentials{}, fmt.Errorf("vehicle %s: credentials provider answered no credentials: %.200s", p.o.ThingName, body)
	}
	c := doc.Credentials
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, CanExpire: true, Expires: c.Expiration}, nil
}
