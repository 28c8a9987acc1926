// Package vehicleconn is how a vehicle reaches AWS as itself: the AWS IoT
// Core credentials provider exchanges its X.509 certificate (mutual TLS,
// naming its thing) for credentials of the certificate role, with which
// STS AssumeRole starts the vehicle's session of the vehicle role; and its
// MQTT connection to the device data endpoint. The public client and
// agent packages, and the synthetic vehicle the functions run, share it.
package vehicleconn

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

// Tag is the session tag of the vehicle role that names the vid (the
// construct's trust policy requires it, equal to the session name).
const Tag = "vid"

// Chain is a vehicle's way from its certificate to its session of the
// vehicle role.
type Chain struct {
	// URL is the credentials provider's URL of the role alias.
	URL string
	// ThingName is the vehicle's thing, its vid.
	ThingName string
	// HTTP sends the credentials request over mutual TLS.
	HTTP *http.Client
	// VehicleRoleArn, Region and STSEndpoint ("" for STS's regional one)
	// say where the vehicle's session is started.
	VehicleRoleArn, Region, STSEndpoint string
	// Duration of the vehicle's session.
	Duration time.Duration
}

// NewChain checks what a chain needs; tlsConfig holds the vehicle's
// certificate, timeout bounds the credentials request.
func NewChain(endpoint, roleAlias, thingName, vehicleRoleArn, region, stsEndpoint string, duration time.Duration, tlsConfig *tls.Config, timeout time.Duration) (*Chain, error) {
	if endpoint == "" || roleAlias == "" || thingName == "" || vehicleRoleArn == "" || region == "" {
		return nil, errors.New("vehicle credentials need Endpoint, RoleAlias, ThingName, VehicleRoleArn and Region")
	}
	if duration < 15*time.Minute || duration > time.Hour {
		return nil, fmt.Errorf("vehicle credentials: Duration %v: allowed are 15 minutes to 1 hour (a role assumed with a role's credentials)", duration)
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	hc := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: false}}
	return &Chain{
		URL:       strings.TrimSuffix(endpoint, "/") + "/role-aliases/" + url.PathEscape(roleAlias) + "/credentials",
		ThingName: thingName, HTTP: hc, VehicleRoleArn: vehicleRoleArn, Region: region, STSEndpoint: stsEndpoint, Duration: duration,
	}, nil
}

// Retrieve gets the certificate role's credentials, then the vehicle's:
// an aws.CredentialsProvider.
func (c *Chain) Retrieve(ctx context.Context) (aws.Credentials, error) {
	cert, err := c.CertificateCredentials(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	return c.AssumeVehicleRole(ctx, cert)
}

// CertificateCredentials asks the credentials provider, over mutual TLS,
// for the certificate role's credentials, naming the thing.
func (c *Chain) CertificateCredentials(ctx context.Context) (aws.Credentials, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return aws.Credentials{}, err
	}
	req.Header.Set("x-amzn-iot-thingname", c.ThingName)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("vehicle %s: credentials provider: %w", c.ThingName, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return aws.Credentials{}, fmt.Errorf("vehicle %s: credentials provider answered %s: %.200s", c.ThingName, resp.Status, body)
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
		return aws.Credentials{}, fmt.Errorf("vehicle %s: credentials provider answered no credentials: %.200s", c.ThingName, body)
	}
	d := doc.Credentials
	return aws.Credentials{AccessKeyID: d.AccessKeyID, SecretAccessKey: d.SecretAccessKey, SessionToken: d.SessionToken, CanExpire: true, Expires: d.Expiration}, nil
}

// AssumeVehicleRole starts, with the certificate role's credentials, the
// vehicle's session of the vehicle role: the thing name as session name
// and as tag vid, the only session those credentials may start.
func (c *Chain) AssumeVehicleRole(ctx context.Context, cert aws.Credentials) (aws.Credentials, error) {
	client := sts.New(sts.Options{Region: c.Region, Credentials: credentials.StaticCredentialsProvider{Value: cert}}, func(opts *sts.Options) {
		if c.STSEndpoint != "" {
			opts.BaseEndpoint = aws.String(c.STSEndpoint)
		}
	})
	out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(c.VehicleRoleArn), RoleSessionName: aws.String(c.ThingName),
		Tags:            []ststypes.Tag{{Key: aws.String(Tag), Value: aws.String(c.ThingName)}},
		DurationSeconds: aws.Int32(int32(c.Duration / time.Second)),
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("vehicle %s: assume the vehicle role: %w", c.ThingName, err)
	}
	k := out.Credentials
	if k == nil || k.AccessKeyId == nil || k.SecretAccessKey == nil || k.SessionToken == nil || k.Expiration == nil {
		return aws.Credentials{}, fmt.Errorf("vehicle %s: STS answered no credentials", c.ThingName)
	}
	return aws.Credentials{AccessKeyID: *k.AccessKeyId, SecretAccessKey: *k.SecretAccessKey, SessionToken: *k.SessionToken,
		CanExpire: true, Expires: *k.Expiration, Source: "FleetApiVehicle"}, nil
}

// TLS is the configuration of a vehicle's mutual TLS with an AWS IoT Core
// endpoint (the credentials provider, the device data endpoint): its
// certificate (cert, or certFile and keyFile, PEM) and the CAs the
// endpoint chains to (roots, or caFile, PEM; neither for the system's
// roots, Amazon Root CA 1 for IoT Core).
func TLS(cert *tls.Certificate, certFile, keyFile, caFile string, roots *x509.CertPool) (*tls.Config, error) {
	if cert == nil {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("vehicle certificate: %w", err)
		}
		cert = &c
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12, RootCAs: roots}
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
