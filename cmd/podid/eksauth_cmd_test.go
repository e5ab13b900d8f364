package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/agent/eksauthclient"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/sigv4"
)

// bannerWriter hands over the server URL from podid serve's banner.
type bannerWriter struct {
	once sync.Once
	mu   sync.Mutex
	buf  bytes.Buffer
	url  chan string
}

var bannerURL = regexp.MustCompile(`EKS API at (http://\S+)`)

func (w *bannerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := bannerURL.FindStringSubmatch(w.buf.String()); m != nil {
		w.once.Do(func() { w.url <- m[1] })
	}
	return len(p), nil
}

// startServe runs podid serve in-process (--auth sigv4) and returns its
// URL and data directory.
func startServe(t *testing.T, delay time.Duration) (string, string) {
	t.Helper()
	return startServeWith(t, func(o *serveOptions) { o.propagationDelay = delay })
}

// startServeWith is startServe with options of the test's.
func startServeWith(t testing.TB, opt func(o *serveOptions)) (string, string) {
	t.Helper()
	return startServeLog(t, io.Discard, opt)
}

// startServeLog is startServeWith with podid serve's log (its stderr)
// going to stderr.
func startServeLog(t testing.TB, stderr io.Writer, opt func(o *serveOptions)) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	o := &serveOptions{
		listen: "127.0.0.1:0", store: "sqlite:" + filepath.Join(dir, "podid.db"), region: "us-west-2",
		accountID: "111122223333", auth: sigv4.ModeSigV4, iam: iamOff, maxBodyBytes: 1 << 20, logLevel: "error",
		shutdownTimeout: 5 * time.Second, dataDir: dir,
		pollInterval: time.Second, resyncInterval: 5 * time.Minute,
	}
	opt(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	bw := &bannerWriter{url: make(chan string, 1)}
	go func() { done <- runServe(ctx, o, io.MultiWriter(bw, io.Discard), stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("podid serve: %v", err)
		}
	})
	select {
	case u := <-bw.url:
		return u, dir
	case err := <-done:
		done <- nil // for the cleanup
		t.Fatalf("podid serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("podid serve did not start")
	}
	return "", ""
}

func TestTokenIssuerWaitCommands(t *testing.T) {
	url, dir := startServe(t, time.Second)
	ctx := context.Background()
	adminKeys, err := sigv4.LoadAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider(adminKeys.AccessKeyID, adminKeys.SecretAccessKey, "")
	ek := eks.NewFromConfig(aws.Config{Region: "us-west-2", Credentials: creds}, func(o *eks.Options) { o.BaseEndpoint = aws.String(url) })
	if _, err := ek.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("dev"), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	}); err != nil {
		t.Fatal(err)
	}
	a, err := ek.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("dev"), Namespace: aws.String("default"), ServiceAccount: aws.String("app"),
		RoleArn: aws.String("arn:aws:iam::111122223333:role/app"),
	})
	if err != nil {
		t.Fatal(err)
	}
	adm := adminFlags{endpoint: url, dataDir: dir, region: "us-west-2"}

	var out bytes.Buffer
	if err := runToken(ctx, &tokenOptions{admin: adm, cluster: "dev", expiresIn: time.Hour, in: admin.MintTokenInput{
		Namespace: "default", ServiceAccount: "app", PodName: "app-7d9f", PodUID: "0cda7f85-c1f9-4dee-b6e9-a0b50c8f3012",
	}}, &out); err != nil {
		t.Fatalf("podid token: %v", err)
	}
	token := out.String()
	if !satoken.WellFormed(token) {
		t.Fatalf("podid token printed %q, want the token alone (no newline)", out.String())
	}
	// --output FILE: the token alone, mode 0600, nothing on stdout.
	tokenFile := filepath.Join(t.TempDir(), "token")
	out.Reset()
	if err := runToken(ctx, &tokenOptions{admin: adm, cluster: "dev", expiresIn: time.Hour, output: tokenFile, in: admin.MintTokenInput{
		Namespace: "default", ServiceAccount: "app", PodName: "app-7d9f", PodUID: "0cda7f85-c1f9-4dee-b6e9-a0b50c8f3012",
	}}, &out); err != nil {
		t.Fatalf("podid token --output: %v", err)
	}
	if b, err := os.ReadFile(tokenFile); err != nil || !satoken.WellFormed(string(b)) || out.Len() != 0 {
		t.Errorf("podid token --output wrote %q (%v), stdout %q", b, err, out.String())
	}
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: %v, %v", fi, err)
	}
	// A failure writes nothing and is an error (exit status 1).
	out.Reset()
	if err := runToken(ctx, &tokenOptions{admin: adm, cluster: "nope", expiresIn: time.Hour, in: admin.MintTokenInput{
		Namespace: "default", ServiceAccount: "app", PodName: "p", PodUID: "u",
	}}, &out); err == nil || out.Len() != 0 {
		t.Errorf("podid token for an unknown cluster: %v, stdout %q", err, out.String())
	}

	// The admin keys from $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY (what
	// the banner tells the user to export), with no keys file.
	t.Setenv("PODID_ADMIN_ACCESS_KEY_ID", "")
	t.Setenv("PODID_ADMIN_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_ACCESS_KEY_ID", adminKeys.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", adminKeys.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	envAdm := adminFlags{endpoint: url, dataDir: t.TempDir(), region: "us-west-2"}
	if err := runIssuerShow(ctx, &issuerOptions{admin: envAdm, cluster: "dev"}, io.Discard); err != nil {
		t.Errorf("podid issuer show with the keys in $AWS_ACCESS_KEY_ID: %v", err)
	}
	// No keys anywhere: the error says where podid looked.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	err = runIssuerShow(ctx, &issuerOptions{admin: envAdm, cluster: "dev"}, io.Discard)
	for _, want := range []string{"MissingAuthenticationTokenException", "--access-key-id", "$PODID_ADMIN_ACCESS_KEY_ID", "$AWS_ACCESS_KEY_ID", filepath.Join(envAdm.dataDir, sigv4.AdminFile)} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("podid issuer show without keys: %v, want it to mention %s", err, want)
		}
	}
	// podid wait for what does not exist: ResourceNotFound, an error.
	for _, w := range []*waitOptions{
		{admin: adm, revision: -1, timeout: 5 * time.Second, cluster: "dev", associationID: "a-000000000000000000"},
		{admin: adm, revision: -1, timeout: 5 * time.Second, cluster: "nope", associationID: "a-000000000000000000"},
	} {
		if err := runWait(ctx, w, io.Discard); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
			t.Errorf("podid wait --cluster %s for a missing association: %v, want ResourceNotFoundException", w.cluster, err)
		}
	}

	// With a 1 s propagation delay, podid wait says when the association
	// is in effect; then the agent's client gets credentials.
	out.Reset()
	if err := runWait(ctx, &waitOptions{admin: adm, revision: -1, timeout: 10 * time.Millisecond, cluster: "dev", associationID: *a.Association.AssociationId}, &out); err == nil {
		t.Errorf("podid wait with a 10ms timeout succeeded within the 1s delay")
	}
	// Requests of 100ms each: the command asks again until its timeout.
	if err := runWait(ctx, &waitOptions{admin: adm, revision: -1, timeout: 20 * time.Second, cluster: "dev", associationID: *a.Association.AssociationId, chunk: 100 * time.Millisecond}, &out); err != nil {
		t.Fatalf("podid wait: %v", err)
	}
	if !strings.HasPrefix(out.String(), "in effect: revision ") {
		t.Errorf("podid wait printed %q", out.String())
	}
	c, err := eksauthclient.New(eksauthclient.Config{Endpoint: url, Region: "us-west-2", Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.AssumeRoleForPodIdentity(ctx, "dev", token)
	if err != nil {
		t.Fatalf("AssumeRoleForPodIdentity: %v", err)
	}
	if !strings.HasPrefix(res.AssumedRoleUser.Arn, "arn:aws:sts::111122223333:assumed-role/app/eks-dev-app-7d9f-") {
		t.Errorf("assumed role ARN %s", res.AssumedRoleUser.Arn)
	}

	// podid issuer: switch to an external issuer with a static JWKS.
	keys, err := satoken.NewSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := satoken.PublicJWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	const iss = "https://kubernetes.default.svc"
	if err := runIssuerSet(ctx, &issuerOptions{admin: adm, cluster: "dev", issuerURL: iss, jwksFile: jwksFile}, &out); err != nil {
		t.Fatalf("podid issuer set: %v", err)
	}
	out.Reset()
	if err := runIssuerShow(ctx, &issuerOptions{admin: adm, cluster: "dev"}, &out); err != nil {
		t.Fatalf("podid issuer show: %v", err)
	}
	if !strings.Contains(out.String(), `"issuerUrl": "`+iss+`"`) || !strings.Contains(out.String(), `"podidIssued": false`) {
		t.Errorf("podid issuer show printed:\n%s", out.String())
	}
	ext, err := satoken.Mint(keys, iss, satoken.Claims{Namespace: "default", ServiceAccount: "app", PodName: "p", PodUID: "u"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AssumeRoleForPodIdentity(ctx, "dev", ext); err != nil {
		t.Errorf("external issuer's token: %v", err)
	}
	var ae *eksauthclient.Error
	if _, err := c.AssumeRoleForPodIdentity(ctx, "dev", token); !errors.As(err, &ae) || ae.Code != "InvalidTokenException" {
		t.Errorf("podid's token after the switch: %v, want InvalidTokenException", err)
	}

	// Usage errors are reported before any request.
	for _, o := range []*issuerOptions{
		{admin: adm, cluster: "dev"},
		{admin: adm, cluster: "dev", issuerURL: iss, jwksFile: jwksFile, jwksURL: "http://x"},
		{admin: adm, cluster: "dev", podid: true, issuerURL: iss},
	} {
		if err := runIssuerSet(ctx, o, io.Discard); err == nil {
			t.Errorf("podid issuer set %+v succeeded", o)
		}
	}
	if err := runToken(ctx, &tokenOptions{admin: adm, cluster: "dev", expiresIn: time.Hour}, io.Discard); err == nil || !strings.Contains(err.Error(), "--namespace") {
		t.Errorf("podid token without flags: %v", err)
	}
}
