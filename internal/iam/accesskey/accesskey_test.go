package accesskey_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/podid/podid/internal/iam/accesskey"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

func TestSecret(t *testing.T) {
	a, err := accesskey.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := accesskey.New([]byte("another master key, 32 bytes...."))
	s1 := a.Secret("AKIAAAAAAAAAAAAAAAAA")
	if !regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`).MatchString(s1) {
		t.Errorf("secret %q is not 40 base64 characters", s1)
	}
	if a.Secret("AKIAAAAAAAAAAAAAAAAA") != s1 {
		t.Error("the same key's secret differs between calls")
	}
	if a.Secret("AKIAAAAAAAAAAAAAAAAB") == s1 || b.Secret("AKIAAAAAAAAAAAAAAAAA") == s1 {
		t.Error("another key ID or another master key gives the same secret")
	}
	if _, err := accesskey.New([]byte("short")); err == nil {
		t.Error("New accepts a 5-byte master key")
	}
}

// TestFromStore: every replica of a store derives the same secrets.
func TestFromStore(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "podid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := accesskey.FromStore(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := accesskey.FromStore(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if a.Secret("AKIAAAAAAAAAAAAAAAAA") != b.Secret("AKIAAAAAAAAAAAAAAAAA") {
		t.Error("two Secrets from one store derive different secrets")
	}
}

func ExampleLookup() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "podid-accesskey-example")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(ctx, filepath.Join(dir, "podid.db"))
	defer st.Close()
	secrets, _ := accesskey.FromStore(ctx, st)
	st.CreateUser(ctx, store.User{Name: "node", Path: "/", ID: "AIDAEXAMPLE", ARN: "arn:aws:iam::000000000000:user/node"})
	st.CreateAccessKey(ctx, store.AccessKey{ID: "AKIAEXAMPLE000000001", UserName: "node", Status: store.AccessKeyActive}, 2)

	l := &accesskey.Lookup{Store: st, Secrets: secrets, AccountID: "000000000000"}
	id, secret, err := l.UserKey(ctx, "AKIAEXAMPLE000000001")
	fmt.Println(id.ARN, secret == secrets.Secret("AKIAEXAMPLE000000001"), err)

	st.SetAccessKeyStatus(ctx, "node", "AKIAEXAMPLE000000001", store.AccessKeyInactive)
	_, _, err = l.UserKey(ctx, "AKIAEXAMPLE000000001")
	fmt.Println(err)
	// Output:
	// arn:aws:iam::000000000000:user/node true <nil>
	// access key AKIAEXAMPLE000000001 is Inactive: no active access key with that ID
}
