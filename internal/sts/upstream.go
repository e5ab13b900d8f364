package sts

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
)

// Upstream makes role assumptions against a real STS (or any STS-compatible
// endpoint) through aws-sdk-go-v2: the first assumption with podid's own
// credentials from the SDK's default chain, a chained one with the
// caller's session credentials. It has the same AssumeRole as Service.
type Upstream struct {
	client *awssts.Client
}

// NewUpstream returns an Upstream for the STS at endpointURL (empty: the
// SDK's default endpoint for region), with credentials from the default
// chain (environment, shared config, container or instance roles).
func NewUpstream(ctx context.Context, endpointURL, region string) (*Upstream, error) {
	opts := []func(*config.LoadOptions) error{}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration for upstream STS: %w", err)
	}
	return NewUpstreamFromConfig(cfg, endpointURL), nil
}

// NewUpstreamFromConfig is NewUpstream with an explicit SDK configuration.
func NewUpstreamFromConfig(cfg aws.Config, endpointURL string) *Upstream {
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
func (u *Upstream) AssumeRole(ctx context.Context, in AssumeRoleInput) (AssumeRoleOutput, error) {
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
		return AssumeRoleOutput{}, upstreamError(err)
	}
	if out.Credentials == nil || out.AssumedRoleUser == nil {
		return AssumeRoleOutput{}, &Error{Code: CodeInternalFailure, Status: http.StatusBadGateway,
			Message: "upstream STS returned no credentials"}
	}
	res := AssumeRoleOutput{
		Credentials: Credentials{
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
		return &Error{Code: ae.ErrorCode(), Status: status, Message: ae.ErrorMessage(), err: err}
	}
	return &callFailure{
		se:    &Error{Code: CodeInternalFailure, Status: status, Message: "The upstream STS could not be called.", err: err},
		cause: err,
	}
}

// callFailure is an upstream call that got no answer from STS. Its *Error
// (errors.As) is what callers may be told; its Error() carries the cause
// (podid's credential chain, the network) for the server's logs only.
type callFailure struct {
	se    *Error
	cause error
}

func (f *callFailure) Error() string   { return "calling upstream STS: " + f.cause.Error() }
func (f *callFailure) Unwrap() []error { return []error{f.se, f.cause} }
