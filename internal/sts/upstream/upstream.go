// Package upstream makes podid's role assumptions against a real STS (or
// any STS-compatible endpoint) through aws-sdk-go-v2, with the same
// AssumeRole as sts.Service.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/podid/podid/internal/sts"
)

// Upstream makes role assumptions against a real STS (or any STS-compatible
// endpoint) through aws-sdk-go-v2: the first assumption with podid's own
// credentials from the SDK's default chain, a chained one with the
// caller's session credentials. It has the same AssumeRole as Service.
type Upstream struct {
	client *awssts.Client
}

// New returns an Upstream for the STS at endpointURL (empty: the
// SDK's default endpoint for region), with credentials from the default
// chain (environment, shared config, container or instance roles).
func New(ctx context.Context, endpointURL, region string) (*Upstream, error) {
	opts := []func(*config.LoadOptions) error{}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration for upstream STS: %w", err)
	}
	return NewFromConfig(cfg, endpointURL), nil
}

// NewFromConfig is New with an explicit SDK configuration.
func NewFromConfig(cfg aws.Config, endpointURL string) *Upstream {
	return &Upstream{client: awssts.NewFromConfig(cfg, func(o *awssts.Options) {
		if endpointURL != "" {
			o.BaseEndpoint = aws.String(endpointURL)
		}
	})}
}

// AssumeRole calls the upstream STS's AssumeRole. API errors come back as
// *Error with the upstream's code, status and message; a call that got no
// answer (no credentials, network) as an error wrapping an *Error
// (InternalFailure, a message without the cause) whose text has the cause.
// in.Principal and in.SourceContext have no upstream counterpart and are
// ignored.
func (u *Upstream) AssumeRole(ctx context.Context, in sts.AssumeRoleInput) (sts.AssumeRoleOutput, error) {
	req := &awssts.AssumeRoleInput{
		RoleArn:         aws.String(in.RoleARN),
		RoleSessionName: aws.String(in.RoleSessionName),
	}
	if in.DurationSeconds != 0 {
		req.DurationSeconds = aws.Int32(in.DurationSeconds)
	}
	if in.ExternalID != "" {
		req.ExternalId = aws.String(in.ExternalID)
	}
	if in.Policy != "" {
		req.Policy = aws.String(in.Policy)
	}
	for _, a := range in.PolicyARNs {
		req.PolicyArns = append(req.PolicyArns, ststypes.PolicyDescriptorType{Arn: aws.String(a)})
	}
	for _, t := range in.Tags {
		req.Tags = append(req.Tags, ststypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	req.TransitiveTagKeys = in.TransitiveTagKeys

	var optFns []func(*awssts.Options)
	if c := in.Caller; c != nil {
		optFns = append(optFns, func(o *awssts.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		})
	}
	out, err := u.client.AssumeRole(ctx, req, optFns...)
	if err != nil {
		return sts.AssumeRoleOutput{}, upstreamError(err)
	}
	if out.Credentials == nil || out.AssumedRoleUser == nil {
		return sts.AssumeRoleOutput{}, &sts.Error{Code: sts.CodeInternalFailure, Status: http.StatusBadGateway,
			Message: "upstream STS returned no credentials"}
	}
	res := sts.AssumeRoleOutput{
		Credentials: sts.Credentials{
			AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
			SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
			SessionToken:    aws.ToString(out.Credentials.SessionToken),
			Expiration:      aws.ToTime(out.Credentials.Expiration),
		},
		AssumedRoleARN:   aws.ToString(out.AssumedRoleUser.Arn),
		AssumedRoleID:    aws.ToString(out.AssumedRoleUser.AssumedRoleId),
		PackedPolicySize: int(aws.ToInt32(out.PackedPolicySize)),
	}
	return res, nil
}

// upstreamError maps an SDK error to *Error: API errors keep their code,
// message and HTTP status; anything else (network, no credentials) is a
// callFailure: an InternalFailure 500 whose message says nothing of the
// cause.
func upstreamError(err error) error {
	status := http.StatusInternalServerError
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &sts.Error{Code: ae.ErrorCode(), Status: status, Message: ae.ErrorMessage(), Err: err}
	}
	return &callFailure{
		se:    &sts.Error{Code: sts.CodeInternalFailure, Status: status, Message: "The upstream STS could not be called.", Err: err},
		cause: err,
	}
}

// callFailure is an upstream call that got no answer from STS. Its *Error
// (errors.As) is what callers may be told; its Error() carries the cause
// (podid's credential chain, the network) for the server's logs only.
type callFailure struct {
	se    *sts.Error
	cause error
}

func (f *callFailure) Error() string   { return "calling upstream STS: " + f.cause.Error() }
func (f *callFailure) Unwrap() []error { return []error{f.se, f.cause} }
