package synthetic

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// IoT is what provisioning calls of AWS IoT Core (*iot.Client).
type IoT interface {
	CreateCertificateFromCsr(context.Context, *iot.CreateCertificateFromCsrInput, ...func(*iot.Options)) (*iot.CreateCertificateFromCsrOutput, error)
	DescribeCertificate(context.Context, *iot.DescribeCertificateInput, ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error)
	UpdateCertificate(context.Context, *iot.UpdateCertificateInput, ...func(*iot.Options)) (*iot.UpdateCertificateOutput, error)
	DeleteCertificate(context.Context, *iot.DeleteCertificateInput, ...func(*iot.Options)) (*iot.DeleteCertificateOutput, error)
	CreateThing(context.Context, *iot.CreateThingInput, ...func(*iot.Options)) (*iot.CreateThingOutput, error)
	DeleteThing(context.Context, *iot.DeleteThingInput, ...func(*iot.Options)) (*iot.DeleteThingOutput, error)
	AttachThingPrincipal(context.Context, *iot.AttachThingPrincipalInput, ...func(*iot.Options)) (*iot.AttachThingPrincipalOutput, error)
	DetachThingPrincipal(context.Context, *iot.DetachThingPrincipalInput, ...func(*iot.Options)) (*iot.DetachThingPrincipalOutput, error)
	ListThingPrincipals(context.Context, *iot.ListThingPrincipalsInput, ...func(*iot.Options)) (*iot.ListThingPrincipalsOutput, error)
	AttachPolicy(context.Context, *iot.AttachPolicyInput, ...func(*iot.Options)) (*iot.AttachPolicyOutput, error)
	DetachPolicy(context.Context, *iot.DetachPolicyInput, ...func(*iot.Options)) (*iot.DetachPolicyOutput, error)
	DescribeEndpoint(context.Context, *iot.DescribeEndpointInput, ...func(*iot.Options)) (*iot.DescribeEndpointOutput, error)
}

// Secrets is what provisioning calls of Secrets Manager.
type Secrets interface {
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// The custom resource's properties, as the construct writes them.
const (
	PropVID        = "Vid"
	PropSecretArn  = "SecretArn"
	PropPolicyName = "PolicyName"
)

// The custom resource's attributes (Fn::GetAtt).
const (
	AttrCertificateID       = "CertificateId"
	AttrCredentialsEndpoint = "CredentialsEndpoint"
	AttrDataEndpoint        = "DataEndpoint"
)

// Secret is the synthetic vehicle's secret: its certificate and the
// private key made for it, PEM.
type Secret struct {
	CertificateID  string `json:"certificateId"`
	CertificatePEM string `json:"certificatePem"`
	PrivateKeyPEM  string `json:"privateKey"`
}

// Provisioner is the custom resource of the synthetic vehicle: on create,
// a key made here and never returned, its certificate from AWS IoT Core
// (CreateCertificateFromCsr: the key never leaves the function but into
// the secret), attached to the vehicle's thing and to the vehicles'
// certificate policy, the key and certificate put in the secret, the
// vehicle registered; on delete, the certificate detached, deactivated
// and deleted, and the thing when nothing else is attached to it.
type Provisioner struct {
	IoT      IoT
	Secrets  Secrets
	Vehicles Registry
	Now      func() time.Time
	// DeleteWait bounds the retries of a delete IoT Core refuses while a
	// detach propagates. Default: 60 s.
	DeleteWait time.Duration
}

// certificateID is IoT Core's form of a certificate ID.
var certificateID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Handle serves a CloudFormation custom resource request (cfn.LambdaWrap
// sends the answer): the physical ID is the certificate's ID.
func (p *Provisioner) Handle(ctx context.Context, e cfn.Event) (string, map[string]any, error) {
	props, err := properties(e.ResourceProperties)
	if err != nil {
		return "", nil, err
	}
	switch e.RequestType {
	case cfn.RequestCreate:
		return p.create(ctx, props)
	case cfn.RequestUpdate:
		old, err := properties(e.OldResourceProperties)
		if err == nil && old == props && certificateID.MatchString(e.PhysicalResourceID) {
			data, err := p.endpoints(ctx)
			if err != nil {
				return "", nil, err
			}
			data[AttrCertificateID] = e.PhysicalResourceID
			return e.PhysicalResourceID, data, nil
		}
		// A new vehicle or secret: a new certificate; CloudFormation then
		// deletes the old one.
		return p.create(ctx, props)
	case cfn.RequestDelete:
		if !certificateID.MatchString(e.PhysicalResourceID) {
			// A create that failed before it made a certificate.
			return e.PhysicalResourceID, nil, nil
		}
		return e.PhysicalResourceID, nil, p.remove(ctx, props, e.PhysicalResourceID)
	}
	return "", nil, fmt.Errorf("unknown request type %q", e.RequestType)
}

type props struct{ vid, secretArn, policy string }

func properties(m map[string]any) (props, error) {
	get := func(k string) string { s, _ := m[k].(string); return s }
	p := props{vid: get(PropVID), secretArn: get(PropSecretArn), policy: get(PropPolicyName)}
	if p.vid == "" || p.secretArn == "" || p.policy == "" {
		return props{}, fmt.Errorf("the synthetic vehicle needs the properties %s, %s and %s", PropVID, PropSecretArn, PropPolicyName)
	}
	return p, nil
}

func (p *Provisioner) create(ctx context.Context, pr props) (string, map[string]any, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: pr.vid}}, key)
	if err != nil {
		return "", nil, err
	}
	cert, err := p.IoT.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
		CertificateSigningRequest: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))),
		SetAsActive:               true,
	})
	if err != nil {
		return "", nil, fmt.Errorf("create the synthetic vehicle's certificate: %w", err)
	}
	id, arn := aws.ToString(cert.CertificateId), aws.ToString(cert.CertificateArn)
	data, err := p.attach(ctx, pr, id, arn, aws.ToString(cert.CertificatePem), key)
	if err != nil {
		// Leave no certificate behind: CloudFormation's delete of a failed
		// create does not name it.
		if cleanup := p.remove(ctx, pr, id); cleanup != nil {
			err = errors.Join(err, fmt.Errorf("and removing certificate %s: %w", id, cleanup))
		}
		return "", nil, err
	}
	return id, data, nil
}

// attach makes the certificate the vehicle's: thing, policy, secret,
// registration.
func (p *Provisioner) attach(ctx context.Context, pr props, id, arn, certPEM string, key *ecdsa.PrivateKey) (map[string]any, error) {
	if _, err := p.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(pr.vid)}); err != nil {
		var exists *iottypes.ResourceAlreadyExistsException
		if !errors.As(err, &exists) {
			return nil, fmt.Errorf("create thing %s: %w", pr.vid, err)
		}
	}
	if _, err := p.IoT.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(pr.vid), Principal: aws.String(arn)}); err != nil {
		return nil, fmt.Errorf("attach certificate %s to thing %s: %w", id, pr.vid, err)
	}
	if _, err := p.IoT.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(pr.policy), Target: aws.String(arn)}); err != nil {
		return nil, fmt.Errorf("attach policy %s to certificate %s: %w", pr.policy, id, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	secret, err := json.Marshal(Secret{CertificateID: id, CertificatePEM: certPEM, PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))})
	if err != nil {
		return nil, err
	}
	if _, err := p.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(pr.secretArn), SecretString: aws.String(string(secret))}); err != nil {
		return nil, fmt.Errorf("put the synthetic vehicle's key in its secret: %w", err)
	}
	if err := Register(ctx, p.Vehicles, pr.vid, p.now()); err != nil {
		return nil, err
	}
	data, err := p.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	data[AttrCertificateID] = id
	return data, nil
}

// endpoints are the account's credentials provider and device data
// endpoint, where the synthetic vehicle goes.
func (p *Provisioner) endpoints(ctx context.Context) (map[string]any, error) {
	data := map[string]any{}
	for attr, typ := range map[string]string{AttrCredentialsEndpoint: "iot:CredentialProvider", AttrDataEndpoint: "iot:Data-ATS"} {
		out, err := p.IoT.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String(typ)})
		if err != nil || aws.ToString(out.EndpointAddress) == "" {
			return nil, fmt.Errorf("describe endpoint %s: %v", typ, err)
		}
		data[attr] = aws.ToString(out.EndpointAddress)
	}
	return data, nil
}

// remove detaches the certificate from the policy and the thing,
// deactivates and deletes it (IoT Core refuses to delete an active or
// attached certificate, and a detach takes seconds to propagate), then
// deletes the thing when no certificate is attached to it any more. A
// certificate or thing already gone is no error.
func (p *Provisioner) remove(ctx context.Context, pr props, id string) error {
	desc, err := p.IoT.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	var gone *iottypes.ResourceNotFoundException
	switch {
	case errors.As(err, &gone):
	case err != nil:
		return fmt.Errorf("describe certificate %s: %w", id, err)
	default:
		arn := aws.ToString(desc.CertificateDescription.CertificateArn)
		if _, err := p.IoT.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(pr.policy), Target: aws.String(arn)}); err != nil && !errors.As(err, &gone) {
			return fmt.Errorf("detach policy %s from certificate %s: %w", pr.policy, id, err)
		}
		if _, err := p.IoT.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(pr.vid), Principal: aws.String(arn)}); err != nil && !errors.As(err, &gone) {
			return fmt.Errorf("detach certificate %s from thing %s: %w", id, pr.vid, err)
		}
		if _, err := p.IoT.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: iottypes.CertificateStatusInactive}); err != nil && !errors.As(err, &gone) {
			return fmt.Errorf("deactivate certificate %s: %w", id, err)
		}
		if err := p.retry(ctx, func() error {
			_, err := p.IoT.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)})
			if errors.As(err, &gone) {
				return nil
			}
			return err
		}); err != nil {
			return fmt.Errorf("delete certificate %s: %w", id, err)
		}
	}
	left, err := p.IoT.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(pr.vid)})
	if errors.As(err, &gone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list the principals of thing %s: %w", pr.vid, err)
	}
	if len(left.Principals) > 0 {
		return nil // another certificate of the vehicle's: an update's new one
	}
	if _, err := p.IoT.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(pr.vid)}); err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("delete thing %s: %w", pr.vid, err)
	}
	return nil
}

// retry calls f until it succeeds, fails otherwise than with a conflict
// IoT Core answers while a detach propagates, or DeleteWait passes.
func (p *Provisioner) retry(ctx context.Context, f func() error) error {
	wait := p.DeleteWait
	if wait <= 0 {
		wait = 60 * time.Second
	}
	deadline := time.Now().Add(wait)
	for delay := 500 * time.Millisecond; ; delay = min(2*delay, 8*time.Second) {
		err := f()
		var conflict *iottypes.DeleteConflictException
		var state *iottypes.CertificateStateException
		if err == nil || !(errors.As(err, &conflict) || errors.As(err, &state)) || time.Now().Add(delay).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
	}
}

func (p *Provisioner) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}
