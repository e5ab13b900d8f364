package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// BenchmarkIAMReads measures the IAM reads of the credential and
// authentication paths on a store holding 1,000 roles (two inline
// policies, two attached managed policies each) and 1,000 users with a key,
// against one point read (Revision) in the same run:
//
//	go test -run '^$' -bench IAMReads ./internal/store/sqlite
func BenchmarkIAMReads(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "podid.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 1000
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}`
	now := time.Now()
	var arns []string
	for i := range 2 {
		name := fmt.Sprint("managed-", i)
		mp := store.ManagedPolicy{Name: name, Path: "/", ID: fmt.Sprint("ANPA", i), ARN: "arn:aws:iam::000000000000:policy/" + name,
			DefaultVersion: "v1", Versions: []store.PolicyVersion{{ID: "v1", Document: doc, CreatedAt: now}}, NextVersion: 2, CreatedAt: now, UpdatedAt: now}
		if _, err := s.CreatePolicy(ctx, mp); err != nil {
			b.Fatal(err)
		}
		arns = append(arns, mp.ARN)
	}
	for i := range n {
		name := fmt.Sprint("role-", i)
		_, err := s.CreateRole(ctx, store.Role{Name: name, Path: "/", ID: fmt.Sprint("AROA", i), ARN: "arn:aws:iam::000000000000:role/" + name,
			AssumeRolePolicy: doc, Policies: map[string]string{"a": doc, "b": doc}, MaxSessionDuration: 3600, CreatedAt: now})
		if err != nil {
			b.Fatal(err)
		}
		for _, arn := range arns {
			if err := s.AttachPolicy(ctx, store.KindRole, name, arn, 10); err != nil {
				b.Fatal(err)
			}
		}
		user := fmt.Sprint("user-", i)
		if _, err := s.CreateUser(ctx, store.User{Name: user, Path: "/", ID: fmt.Sprint("AIDA", i), ARN: "arn:aws:iam::000000000000:user/" + user, CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.CreateAccessKey(ctx, store.AccessKey{ID: fmt.Sprintf("AKIA%016d", i), UserName: user, Status: store.AccessKeyActive, CreatedAt: now}, 2); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("RolePrincipal", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			p, err := s.RolePrincipal(ctx, fmt.Sprint("role-", i%n))
			if err != nil || len(p.Attached) != 2 {
				b.Fatal(p, err)
			}
		}
	})
	b.Run("LookupAccessKey", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, _, err := s.LookupAccessKey(ctx, fmt.Sprintf("AKIA%016d", i%n)); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The baseline: one point read of the store's revision.
	b.Run("Revision", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Revision(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("IAMRevision", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.IAMRevision(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
