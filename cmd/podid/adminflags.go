package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/pflag"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/sigv4"
)

// adminFlags are the flags of the commands that call podid's admin API:
// the server and the admin identity's keys to sign with.
type adminFlags struct {
	endpoint        string
	accessKeyID     string
	secretAccessKey string
	dataDir         string
	region          string
	// ignoreAWSEnv leaves $AWS_ACCESS_KEY_ID out of the search (podid
	// session inspect --from-env: those are the session's keys).
	ignoreAWSEnv bool
}

func (a *adminFlags) register(f *pflag.FlagSet) {
	f.StringVar(&a.endpoint, "endpoint", "", "podid server URL, e.g. http://127.0.0.1:8080 (required)")
	f.StringVar(&a.accessKeyID, "access-key-id", "", "admin access key ID (else $PODID_ADMIN_ACCESS_KEY_ID, else $AWS_ACCESS_KEY_ID, else --data-dir's keys file)")
	f.StringVar(&a.secretAccessKey, "secret-access-key", "", "admin secret access key (else $PODID_ADMIN_SECRET_ACCESS_KEY, else $AWS_SECRET_ACCESS_KEY, else --data-dir's keys file)")
	f.StringVar(&a.dataDir, "data-dir", "podid-data", "podid serve's data directory, holding "+sigv4.AdminFile)
	f.StringVar(&a.region, "region", "us-east-1", "region of the request's signing scope, and so of the cluster it names")
}

// client is the admin API client the flags describe, signing with the
// admin keys (unsigned when there are none, for --auth none).
func (a *adminFlags) client() (*admin.Client, error) {
	if a.endpoint == "" {
		return nil, errors.New("--endpoint is required")
	}
	creds, err := a.credentials()
	if err != nil {
		return nil, err
	}
	c := &admin.Client{Endpoint: a.endpoint, Region: a.region, Credentials: creds}
	if creds == nil {
		c.Unsigned = a.searched()
	}
	return c, nil
}

// searched says where credentials looked for the admin keys, for the error
// of an unsigned request the server refuses.
func (a *adminFlags) searched() string {
	where := "--access-key-id/--secret-access-key, $PODID_ADMIN_ACCESS_KEY_ID/$PODID_ADMIN_SECRET_ACCESS_KEY, "
	if !a.ignoreAWSEnv {
		where += "$AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, "
	}
	return where + filepath.Join(a.dataDir, sigv4.AdminFile) + " (--data-dir)"
}

// credentials finds the admin keys: the flags, else
// PODID_ADMIN_ACCESS_KEY_ID and PODID_ADMIN_SECRET_ACCESS_KEY, else
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN: what
// a user who exported the printed admin keys has), else the keys file in
// --data-dir; nil when there are none.
func (a *adminFlags) credentials() (aws.CredentialsProvider, error) {
	if a.accessKeyID != "" || a.secretAccessKey != "" {
		if a.accessKeyID == "" || a.secretAccessKey == "" {
			return nil, errors.New("--access-key-id and --secret-access-key go together")
		}
		return credentials.NewStaticCredentialsProvider(a.accessKeyID, a.secretAccessKey, ""), nil
	}
	if id, secret := os.Getenv("PODID_ADMIN_ACCESS_KEY_ID"), os.Getenv("PODID_ADMIN_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		return credentials.NewStaticCredentialsProvider(id, secret, ""), nil
	}
	if id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); !a.ignoreAWSEnv && id != "" && secret != "" {
		return credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN")), nil
	}
	c, err := sigv4.LoadAdmin(a.dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""), nil
}
