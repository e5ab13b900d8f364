// Command child is the workload of podid's end-to-end tests: an unmodified
// AWS SDK program. It loads the default configuration (so credentials come
// from the default chain: with AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE set, the node agent), calls STS
// GetCallerIdentity (AWS_ENDPOINT_URL_STS points it at podid) and prints
// one JSON object: who it is and the credentials it used. On failure it
// prints the error on stderr and exits 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// result is what the child prints.
type result struct {
	ARN          string    `json:"arn"`
	Account      string    `json:"account"`
	UserID       string    `json:"userId"`
	AccessKeyID  string    `json:"accessKeyId"`
	SessionToken string    `json:"sessionToken"`
	Source       string    `json:"source"`
	Expires      time.Time `json:"expires"`
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w", err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieving credentials: %w", err)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("calling GetCallerIdentity: %w", err)
	}
	return json.NewEncoder(os.Stdout).Encode(result{
		ARN:          aws.ToString(out.Arn),
		Account:      aws.ToString(out.Account),
		UserID:       aws.ToString(out.UserId),
		AccessKeyID:  creds.AccessKeyID,
		SessionToken: creds.SessionToken,
		Source:       creds.Source,
		Expires:      creds.Expires.UTC(),
	})
}
