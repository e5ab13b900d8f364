// Command sdkclient resolves credentials with the unmodified AWS SDK
// default chain and prints them as JSON; the agent's tests run it as a
// child process with AWS_CONTAINER_CREDENTIALS_FULL_URI set.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"AccessKeyID":     creds.AccessKeyID,
		"SecretAccessKey": creds.SecretAccessKey,
		"SessionToken":    creds.SessionToken,
		"AccountID":       creds.AccountID,
		"Source":          creds.Source,
		"CanExpire":       creds.CanExpire,
		"Expires":         creds.Expires.UTC().Format(time.RFC3339),
	})
}
