package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/podid/podid/internal/store"
)

// The IAM cases of the suite (store.IAM).
var iamTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"IAMRoles", testIAMRoles},
	{"IAMListRoles", testIAMListRoles},
	{"IAMPolicies", testIAMPolicies},
	{"IAMUsersAndAccessKeys", testIAMUsers},
	{"IAMPrincipal", testIAMPrincipal},
	{"IAMConcurrentRoleUpdates", testIAMConcurrentUpdates},
	{"IAMConcurrentCreate", testIAMConcurrentCreate},
	{"IAMConcurrentAttach", testIAMConcurrentAttach},
	{"IAMOIDCProviders", testIAMOIDCProviders},
	{"IAMConcurrentOIDCClientIDs", testIAMConcurrentOIDCClientIDs},
}

const acct = "000000000000"

func newRole(name string) store.Role {
	return store.Role{
		Name:               name,
		Path:               "/",
		ID:                 "AROA" + fmt.Sprintf("%017d", idSeq.Add(1)),
		ARN:                "arn:aws:iam::" + acct + ":role/" + name,
		AssumeRolePolicy:   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`,
		Description:        "d",
		MaxSessionDuration: 3600,
		Tags:               map[string]string{"team": "a"},
		CreatedAt:          base,
	}
}

func newManagedPolicy(path, name string) store.ManagedPolicy {
	return store.ManagedPolicy{
		Name:           name,
		Path:           path,
		ID:             "ANPA" + fmt.Sprintf("%017d", idSeq.Add(1)),
		ARN:            "arn:aws:iam::" + acct + ":policy" + path + name,
		DefaultVersion: "v1",
		Versions:       []store.PolicyVersion{{ID: "v1", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, CreatedAt: base}},
		NextVersion:    2,
		CreatedAt:      base,
		UpdatedAt:      base,
	}
}

func newUser(name string) store.User {
	return store.User{
		Name:      name,
		Path:      "/",
		ID:        "AIDA" + fmt.Sprintf("%017d", idSeq.Add(1)),
		ARN:       "arn:aws:iam::" + acct + ":user/" + name,
		CreatedAt: base,
	}
}

// wantMissing reports unless err is a *store.MissingError of kind.
func wantMissing(t *testing.T, what string, err error, kind store.Kind) {
	t.Helper()
	var me *store.MissingError
	if !errors.As(err, &me) || me.Kind != kind || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: error = %v, want a missing %s (ErrNotFound)", what, err, kind)
	}
}

// wantInUse reports unless err is a *store.InUseError of conflict.
func wantInUse(t *testing.T, what string, err error, conflict store.Conflict) {
	t.Helper()
	var ie *store.InUseError
	if !errors.As(err, &ie) || ie.Conflict != conflict || !errors.Is(err, store.ErrInUse) {
		t.Errorf("%s: error = %v, want in use (%s)", what, err, conflict)
	}
}

func testIAMRoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := newRole("App-Role")
	got, err := s.CreateRole(ctx, want)
	if err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	want.Policies, want.AttachedPolicies, want.Revision = map[string]string{}, []string{}, got.Revision
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("CreateRole (-got +want):\n%s", diff)
	}
	if got.Revision == 0 {
		t.Error("CreateRole: Revision 0")
	}
	again, err := s.GetRole(ctx, "app-role") // names ignore case
	if err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	if diff := cmp.Diff(again, got); diff != "" {
		t.Errorf("GetRole (-got +want):\n%s", diff)
	}
	_, err = s.CreateRole(ctx, newRole("APP-ROLE"))
	wantErr(t, "CreateRole of a name in use in other case", err, store.ErrAlreadyExists)
	if ee := (*store.ExistsError)(nil); !errors.As(err, &ee) || ee.Kind != store.KindRole || ee.ID != "APP-ROLE" {
		t.Errorf("CreateRole of a name in use: %#v, want an *ExistsError of the role named as asked", err)
	}

	upd, err := s.UpdateRole(ctx, "App-Role", func(r *store.Role) error {
		r.Description = "new"
		r.Policies["inline"] = `{"Statement":[]}`
		r.Name, r.ARN, r.ID = "other", "arn:other", "other" // ignored
		r.AttachedPolicies = append(r.AttachedPolicies, "arn:aws:iam::0:policy/x")
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateRole: %v", err)
	}
	if upd.Description != "new" || upd.Policies["inline"] == "" || upd.Name != "App-Role" || upd.ARN != want.ARN ||
		upd.ID != want.ID || len(upd.AttachedPolicies) != 0 || upd.Revision <= got.Revision {
		t.Errorf("UpdateRole = %+v; want the description and policy changed, the key fields and attachments kept, a later revision", upd)
	}
	fnErr := errors.New("refused")
	if _, err := s.UpdateRole(ctx, "App-Role", func(*store.Role) error { return fnErr }); err != fnErr {
		t.Errorf("UpdateRole with a failing fn: %v, want fn's error as is", err)
	}
	_, err = s.UpdateRole(ctx, "nope", func(*store.Role) error { return nil })
	wantMissing(t, "UpdateRole of a missing role", err, store.KindRole)

	_, err = s.DeleteRole(ctx, "App-Role")
	wantInUse(t, "DeleteRole with an inline policy", err, store.ConflictPolicies)
	if _, err := s.UpdateRole(ctx, "App-Role", func(r *store.Role) error { delete(r.Policies, "inline"); return nil }); err != nil {
		t.Fatal(err)
	}
	gone, err := s.DeleteRole(ctx, "app-ROLE")
	if err != nil {
		t.Fatalf("DeleteRole: %v", err)
	}
	if gone.Name != "App-Role" {
		t.Errorf("DeleteRole returned %q", gone.Name)
	}
	_, err = s.GetRole(ctx, "App-Role")
	wantMissing(t, "GetRole after DeleteRole", err, store.KindRole)
	_, err = s.DeleteRole(ctx, "App-Role")
	wantMissing(t, "DeleteRole again", err, store.KindRole)
}

func testIAMListRoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	var all, eng []string
	for i := range 23 {
		r := newRole(fmt.Sprintf("Role-%02d", i))
		if i%3 == 0 {
			r.Path = "/eng/"
			eng = append(eng, store.IAMKey(r.Name))
		}
		if _, err := s.CreateRole(ctx, r); err != nil {
			t.Fatal(err)
		}
		all = append(all, store.IAMKey(r.Name))
	}
	key := func(r store.Role) string { return store.IAMKey(r.Name) }
	for _, limit := range []int{1, 5, 23, 100} {
		got := pageAll(t, limit, len(all), func(p store.Page) ([]store.Role, string, error) { return s.ListRoles(ctx, "", p) }, key)
		if diff := cmp.Diff(got, all); diff != "" {
			t.Errorf("ListRoles limit %d (-got +want):\n%s", limit, diff)
		}
		got = pageAll(t, limit, len(eng), func(p store.Page) ([]store.Role, string, error) { return s.ListRoles(ctx, "/eng/", p) }, key)
		if diff := cmp.Diff(got, eng); diff != "" {
			t.Errorf("ListRoles /eng/ limit %d (-got +want):\n%s", limit, diff)
		}
	}
	if _, _, err := s.ListRoles(ctx, "", store.Page{}); err == nil {
		t.Error("ListRoles with limit 0: no error")
	}
}

func testIAMPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	mp := newManagedPolicy("/team/", "Read")
	got, err := s.CreatePolicy(ctx, mp)
	if err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}
	mp.Tags, mp.Revision = map[string]string{}, got.Revision
	if diff := cmp.Diff(got, mp); diff != "" {
		t.Errorf("CreatePolicy (-got +want):\n%s", diff)
	}
	_, err = s.CreatePolicy(ctx, newManagedPolicy("/", "read"))
	wantErr(t, "CreatePolicy of a name in use under another path", err, store.ErrAlreadyExists)
	if g, err := s.GetPolicy(ctx, mp.ARN); err != nil || g.Name != "Read" {
		t.Errorf("GetPolicy = %v, %v", g.Name, err)
	}
	_, err = s.GetPolicy(ctx, "arn:aws:iam::"+acct+":policy/Read") // wrong path
	wantMissing(t, "GetPolicy under another path", err, store.KindPolicy)

	v2, err := s.UpdatePolicy(ctx, mp.ARN, func(p *store.ManagedPolicy) error {
		p.Versions = append(p.Versions, store.PolicyVersion{ID: "v2", Document: `{"Statement":[]}`, CreatedAt: base})
		p.DefaultVersion, p.NextVersion = "v2", 3
		p.AttachmentCount = 7 // ignored
		return nil
	})
	if err != nil {
		t.Fatalf("UpdatePolicy: %v", err)
	}
	if v2.DefaultVersion != "v2" || len(v2.Versions) != 2 || v2.AttachmentCount != 0 {
		t.Errorf("UpdatePolicy = %+v", v2)
	}
	if _, err := s.UpdatePolicy(ctx, mp.ARN, func(p *store.ManagedPolicy) error { p.DefaultVersion = "v9"; return nil }); err == nil {
		t.Error("UpdatePolicy to a default version that does not exist: no error")
	}

	mustRole(t, s, "r1")
	mustUser(t, s, "u1")
	for _, e := range []struct {
		kind store.Kind
		name string
	}{{store.KindRole, "r1"}, {store.KindUser, "u1"}} {
		if err := s.AttachPolicy(ctx, e.kind, e.name, mp.ARN, 10); err != nil {
			t.Fatalf("AttachPolicy(%s): %v", e.kind, err)
		}
		if err := s.AttachPolicy(ctx, e.kind, e.name, mp.ARN, 10); err != nil {
			t.Errorf("AttachPolicy(%s) again: %v", e.kind, err)
		}
	}
	if g, _ := s.GetPolicy(ctx, mp.ARN); g.AttachmentCount != 2 {
		t.Errorf("AttachmentCount = %d, want 2", g.AttachmentCount)
	}
	if r, _ := s.GetRole(ctx, "r1"); !slices.Equal(r.AttachedPolicies, []string{mp.ARN}) {
		t.Errorf("role's AttachedPolicies = %v", r.AttachedPolicies)
	}
	wantMissing(t, "AttachPolicy to a missing role", s.AttachPolicy(ctx, store.KindRole, "nope", mp.ARN, 10), store.KindRole)
	wantMissing(t, "AttachPolicy of a missing policy", s.AttachPolicy(ctx, store.KindRole, "r1", "arn:aws:iam::"+acct+":policy/nope", 10), store.KindPolicy)
	other := newManagedPolicy("/", "Other")
	if _, err := s.CreatePolicy(ctx, other); err != nil {
		t.Fatal(err)
	}
	err = s.AttachPolicy(ctx, store.KindRole, "r1", other.ARN, 1)
	wantErr(t, "AttachPolicy over the limit", err, store.ErrLimitExceeded)
	if le := (*store.LimitError)(nil); !errors.As(err, &le) || le.Kind != store.KindAttachment || le.Entity != store.KindRole || le.Limit != 1 {
		t.Errorf("AttachPolicy over the limit: %#v, want a *LimitError of the role's attachments", err)
	}

	_, err = s.DeletePolicy(ctx, mp.ARN)
	wantInUse(t, "DeletePolicy while attached", err, store.ConflictPolicyAttached)
	_, err = s.DeleteRole(ctx, "r1")
	wantInUse(t, "DeleteRole with an attached policy", err, store.ConflictAttached)
	_, err = s.DeleteUser(ctx, "u1")
	wantInUse(t, "DeleteUser with an attached policy", err, store.ConflictAttached)
	for _, kind := range []store.Kind{store.KindRole, store.KindUser} {
		name := map[store.Kind]string{store.KindRole: "r1", store.KindUser: "u1"}[kind]
		if err := s.DetachPolicy(ctx, kind, name, mp.ARN); err != nil {
			t.Fatalf("DetachPolicy(%s): %v", kind, err)
		}
		wantMissing(t, "DetachPolicy again", s.DetachPolicy(ctx, kind, name, mp.ARN), store.KindAttachment)
	}
	_, err = s.DeletePolicy(ctx, mp.ARN)
	wantInUse(t, "DeletePolicy with two versions", err, store.ConflictPolicyVersions)
	if _, err := s.UpdatePolicy(ctx, mp.ARN, func(p *store.ManagedPolicy) error {
		p.Versions = slices.DeleteFunc(p.Versions, func(v store.PolicyVersion) bool { return v.ID == "v1" })
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeletePolicy(ctx, mp.ARN); err != nil {
		t.Fatalf("DeletePolicy: %v", err)
	}
	_, err = s.GetPolicy(ctx, mp.ARN)
	wantMissing(t, "GetPolicy after DeletePolicy", err, store.KindPolicy)
	list, _, err := s.ListPolicies(ctx, "", store.Page{Limit: 10})
	if err != nil || len(list) != 1 || list[0].Name != "Other" {
		t.Errorf("ListPolicies = %v, %v; want Other", list, err)
	}
}

func mustRole(t *testing.T, s store.Store, name string) store.Role {
	t.Helper()
	r, err := s.CreateRole(t.Context(), newRole(name))
	if err != nil {
		t.Fatalf("CreateRole(%q): %v", name, err)
	}
	return r
}

func mustUser(t *testing.T, s store.Store, name string) store.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), newUser(name))
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

func testIAMUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustUser(t, s, "Alice")
	if got, err := s.GetUser(ctx, "alice"); err != nil || got.ID != u.ID {
		t.Errorf("GetUser = %+v, %v", got, err)
	}
	_, err := s.CreateUser(ctx, newUser("ALICE"))
	wantErr(t, "CreateUser of a name in use", err, store.ErrAlreadyExists)

	k1, err := s.CreateAccessKey(ctx, store.AccessKey{ID: "AKIA0000000000000001", UserName: "alice", Status: store.AccessKeyActive, CreatedAt: base}, 2)
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	if k1.UserName != "Alice" {
		t.Errorf("access key's UserName = %q, want the user's name as created", k1.UserName)
	}
	if _, err := s.CreateAccessKey(ctx, store.AccessKey{ID: "AKIA0000000000000002", UserName: "Alice", Status: store.AccessKeyActive, CreatedAt: base}, 2); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateAccessKey(ctx, store.AccessKey{ID: "AKIA0000000000000003", UserName: "Alice", Status: store.AccessKeyActive, CreatedAt: base}, 2)
	wantErr(t, "a third access key", err, store.ErrLimitExceeded)
	_, err = s.CreateAccessKey(ctx, store.AccessKey{ID: "AKIA0000000000000004", UserName: "nobody", Status: store.AccessKeyActive}, 2)
	wantMissing(t, "CreateAccessKey for a missing user", err, store.KindUser)

	keys, err := s.ListAccessKeys(ctx, "Alice")
	if err != nil || len(keys) != 2 || keys[0].ID != k1.ID {
		t.Errorf("ListAccessKeys = %+v, %v", keys, err)
	}
	k, owner, err := s.LookupAccessKey(ctx, k1.ID)
	if err != nil || k.Status != store.AccessKeyActive || owner.ARN != u.ARN {
		t.Errorf("LookupAccessKey = %+v, %+v, %v", k, owner, err)
	}
	_, _, err = s.LookupAccessKey(ctx, "AKIA9999999999999999")
	wantMissing(t, "LookupAccessKey of an unknown key", err, store.KindAccessKey)

	mustUser(t, s, "Bob")
	_, err = s.SetAccessKeyStatus(ctx, "Bob", k1.ID, store.AccessKeyInactive)
	wantMissing(t, "SetAccessKeyStatus of another user's key", err, store.KindAccessKey)
	if k, err := s.SetAccessKeyStatus(ctx, "alice", k1.ID, store.AccessKeyInactive); err != nil || k.Status != store.AccessKeyInactive {
		t.Errorf("SetAccessKeyStatus = %+v, %v", k, err)
	}
	if k, _, _ := s.LookupAccessKey(ctx, k1.ID); k.Status != store.AccessKeyInactive {
		t.Errorf("status after SetAccessKeyStatus = %s", k.Status)
	}

	_, err = s.DeleteUser(ctx, "Alice")
	wantInUse(t, "DeleteUser with access keys", err, store.ConflictAccessKeys)

	// Renamed, the user keeps its keys; the old name is free.
	_, err = s.UpdateUser(ctx, "Alice", func(u *store.User) error { u.Name = "Bob"; return nil })
	wantErr(t, "renaming to a name in use", err, store.ErrAlreadyExists)
	ren, err := s.UpdateUser(ctx, "Alice", func(u *store.User) error {
		u.Name, u.Path, u.ARN = "Carol", "/x/", "arn:aws:iam::"+acct+":user/x/Carol"
		u.Tags["k"] = "v"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser rename: %v", err)
	}
	if ren.ID != u.ID || ren.Name != "Carol" || ren.Tags["k"] != "v" {
		t.Errorf("renamed user = %+v", ren)
	}
	_, err = s.GetUser(ctx, "Alice")
	wantMissing(t, "GetUser by the old name", err, store.KindUser)
	if k, owner, err := s.LookupAccessKey(ctx, k1.ID); err != nil || k.UserName != "Carol" || owner.ARN != ren.ARN {
		t.Errorf("LookupAccessKey after the rename = %+v, %+v, %v", k, owner, err)
	}
	for _, k := range keys {
		if _, err := s.DeleteAccessKey(ctx, "Carol", k.ID); err != nil {
			t.Fatalf("DeleteAccessKey: %v", err)
		}
	}
	_, err = s.DeleteAccessKey(ctx, "Carol", k1.ID)
	wantMissing(t, "DeleteAccessKey again", err, store.KindAccessKey)
	if keys, err := s.ListAccessKeys(ctx, "Carol"); err != nil || len(keys) != 0 {
		t.Errorf("ListAccessKeys after deleting = %v, %v", keys, err)
	}
	if _, err := s.DeleteUser(ctx, "carol"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	users, _, err := s.ListUsers(ctx, "/", store.Page{Limit: 10})
	if err != nil || len(users) != 1 || users[0].Name != "Bob" {
		t.Errorf("ListUsers = %+v, %v; want Bob", users, err)
	}
}

func testIAMPrincipal(t *testing.T, s store.Store) {
	ctx := t.Context()
	rev0, err := s.IAMRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := mustRole(t, s, "app")
	if _, err := s.UpdateRole(ctx, "app", func(r *store.Role) error { r.Policies["p"] = "inline-doc"; return nil }); err != nil {
		t.Fatal(err)
	}
	mp := newManagedPolicy("/", "Managed")
	if _, err := s.CreatePolicy(ctx, mp); err != nil {
		t.Fatal(err)
	}
	if err := s.AttachPolicy(ctx, store.KindRole, "app", mp.ARN, 10); err != nil {
		t.Fatal(err)
	}
	rev, err := s.IAMRevision(ctx)
	if err != nil || rev <= rev0 {
		t.Fatalf("IAMRevision = %d, %v; want > %d after writes", rev, err, rev0)
	}
	p, err := s.RolePrincipal(ctx, "APP")
	if err != nil {
		t.Fatalf("RolePrincipal: %v", err)
	}
	want := []store.AttachedPolicy{{ARN: mp.ARN, Name: "Managed", VersionID: "v1", Document: mp.Versions[0].Document}}
	if p.Role == nil || p.Role.AssumeRolePolicy != r.AssumeRolePolicy || p.Role.Policies["p"] != "inline-doc" || p.IAMRevision != rev {
		t.Errorf("RolePrincipal = %+v (role %+v); want the trust and inline policies at IAM revision %d", p, p.Role, rev)
	}
	if diff := cmp.Diff(p.Attached, want); diff != "" {
		t.Errorf("RolePrincipal attached (-got +want):\n%s", diff)
	}
	// Non-IAM writes do not move the IAM revision.
	mustCreateCluster(t, s, "c1")
	if got, _ := s.IAMRevision(ctx); got != rev {
		t.Errorf("IAMRevision after a cluster write = %d, want %d", got, rev)
	}
	mustUser(t, s, "u")
	if err := s.AttachPolicy(ctx, store.KindUser, "u", mp.ARN, 10); err != nil {
		t.Fatal(err)
	}
	up, err := s.UserPrincipal(ctx, "u")
	if err != nil || up.User == nil || up.Role != nil || len(up.Attached) != 1 || up.IAMRevision <= rev {
		t.Errorf("UserPrincipal = %+v, %v", up, err)
	}
	// A permissions boundary of the store comes with its document; an AWS
	// managed one (not in the store) only as the user's ARN.
	if _, err := s.UpdateUser(ctx, "u", func(u *store.User) error { u.PermissionsBoundary = mp.ARN; return nil }); err != nil {
		t.Fatal(err)
	}
	up, err = s.UserPrincipal(ctx, "u")
	if err != nil || up.Boundary == nil || *up.Boundary != want[0] {
		t.Errorf("UserPrincipal boundary = %+v, %v; want %+v", up.Boundary, err, want[0])
	}
	if _, err := s.UpdateRole(ctx, "app", func(r *store.Role) error {
		r.PermissionsBoundary = "arn:aws:iam::aws:policy/PowerUserAccess"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.RolePrincipal(ctx, "app"); err != nil || p.Boundary != nil || p.Role.PermissionsBoundary != "arn:aws:iam::aws:policy/PowerUserAccess" {
		t.Errorf("RolePrincipal with an AWS managed boundary = %+v, %v", p, err)
	}
	_, err = s.RolePrincipal(ctx, "nope")
	wantMissing(t, "RolePrincipal of a missing role", err, store.KindRole)
}

// testIAMConcurrentUpdates: concurrent read-modify-writes of one role
// lose no update.
func testIAMConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustRole(t, s, "shared")
	const workers, each = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := s.UpdateRole(ctx, "shared", func(r *store.Role) error {
					r.Policies["p-"+strconv.Itoa(w)+"-"+strconv.Itoa(i)] = "{}"
					n, _ := strconv.Atoi(r.Tags["n"])
					r.Tags["n"] = strconv.Itoa(n + 1)
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("UpdateRole: %v", err)
	}
	r, err := s.GetRole(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Policies) != workers*each || r.Tags["n"] != strconv.Itoa(workers*each) {
		t.Errorf("%d inline policies, counter %s after %d updates; an update was lost", len(r.Policies), r.Tags["n"], workers*each)
	}
}

// testIAMConcurrentCreate: of concurrent creates of one name (in any
// case), exactly one wins.
func testIAMConcurrentCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	var wins, exists int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := "Same"
			if i%2 == 1 {
				name = "SAME"
			}
			_, err := s.CreateRole(ctx, newRole(name))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrAlreadyExists):
				exists++
			default:
				t.Errorf("CreateRole: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || exists != n-1 {
		t.Errorf("%d creates won and %d found the name in use, want 1 and %d", wins, exists, n-1)
	}
}

// testIAMConcurrentAttach: concurrent attachments to one role keep the
// role's list and every policy's count right.
func testIAMConcurrentAttach(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustRole(t, s, "r")
	const n = 8
	arns := make([]string, n)
	for i := range n {
		mp := newManagedPolicy("/", "P"+strconv.Itoa(i))
		if _, err := s.CreatePolicy(ctx, mp); err != nil {
			t.Fatal(err)
		}
		arns[i] = mp.ARN
	}
	var wg sync.WaitGroup
	for _, arn := range arns {
		wg.Go(func() {
			if err := s.AttachPolicy(ctx, store.KindRole, "r", arn, 10); err != nil {
				t.Errorf("AttachPolicy: %v", err)
			}
		})
	}
	wg.Wait()
	r, err := s.GetRole(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(r.AttachedPolicies))
	if diff := cmp.Diff(got, slices.Sorted(slices.Values(arns))); diff != "" {
		t.Errorf("attached policies (-got +want):\n%s", diff)
	}
	for _, arn := range arns {
		if mp, err := s.GetPolicy(ctx, arn); err != nil || mp.AttachmentCount != 1 {
			t.Errorf("GetPolicy(%s) = count %d, %v; want 1", arn, mp.AttachmentCount, err)
		}
	}
}

func newOIDCProvider(hostPath string) store.OIDCProvider {
	return store.OIDCProvider{
		ARN:         "arn:aws:iam::" + acct + ":oidc-provider/" + hostPath,
		URL:         hostPath,
		ClientIDs:   []string{"sts.amazonaws.com"},
		Thumbprints: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"},
		Tags:        map[string]string{"team": "a"},
		CreatedAt:   base,
	}
}

func testIAMOIDCProviders(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := newOIDCProvider("oidc.example.com/id/ABC")
	got, err := s.CreateOIDCProvider(ctx, want)
	if err != nil {
		t.Fatalf("CreateOIDCProvider: %v", err)
	}
	want.Revision = got.Revision
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("CreateOIDCProvider (-got +want):\n%s", diff)
	}
	if got.Revision == 0 {
		t.Error("CreateOIDCProvider: Revision 0")
	}
	again, err := s.GetOIDCProvider(ctx, want.ARN)
	if err != nil {
		t.Fatalf("GetOIDCProvider: %v", err)
	}
	if diff := cmp.Diff(again, got); diff != "" {
		t.Errorf("GetOIDCProvider (-got +want):\n%s", diff)
	}
	_, err = s.CreateOIDCProvider(ctx, newOIDCProvider("oidc.example.com/id/ABC"))
	wantErr(t, "CreateOIDCProvider of an ARN in use", err, store.ErrAlreadyExists)
	if ee := (*store.ExistsError)(nil); !errors.As(err, &ee) || ee.Kind != store.KindOIDCProvider || ee.ID != want.URL {
		t.Errorf("CreateOIDCProvider of an ARN in use: %#v, want an *ExistsError naming the URL", err)
	}
	_, err = s.GetOIDCProvider(ctx, want.ARN+"X")
	wantMissing(t, "GetOIDCProvider of another ARN", err, store.KindOIDCProvider)

	// A bare provider comes back with empty lists and tags, not nil.
	bare, err := s.CreateOIDCProvider(ctx, store.OIDCProvider{ARN: "arn:aws:iam::" + acct + ":oidc-provider/bare.example.com", URL: "bare.example.com", CreatedAt: base})
	if err != nil {
		t.Fatal(err)
	}
	if bare.ClientIDs == nil || bare.Thumbprints == nil || bare.Tags == nil {
		t.Errorf("bare provider = %+v, want non-nil lists and tags", bare)
	}

	upd, err := s.UpdateOIDCProvider(ctx, want.ARN, func(p *store.OIDCProvider) error {
		p.ClientIDs = append(p.ClientIDs, "app")
		p.Thumbprints = []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}
		p.Tags["env"] = "dev"
		p.ARN, p.URL, p.CreatedAt = "arn:other", "other", base.Add(time.Hour) // ignored
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateOIDCProvider: %v", err)
	}
	if !slices.Equal(upd.ClientIDs, []string{"sts.amazonaws.com", "app"}) || upd.Thumbprints[0][0] != 'a' || upd.Tags["env"] != "dev" ||
		upd.ARN != want.ARN || upd.URL != want.URL || !upd.CreatedAt.Equal(base) || upd.Revision <= got.Revision {
		t.Errorf("UpdateOIDCProvider = %+v; want the lists and tags changed, the key fields kept, a later revision", upd)
	}
	fnErr := errors.New("refused")
	if _, err := s.UpdateOIDCProvider(ctx, want.ARN, func(*store.OIDCProvider) error { return fnErr }); err != fnErr {
		t.Errorf("UpdateOIDCProvider with a failing fn: %v, want fn's error as is", err)
	}
	_, err = s.UpdateOIDCProvider(ctx, "arn:aws:iam::"+acct+":oidc-provider/nope", func(*store.OIDCProvider) error { return nil })
	wantMissing(t, "UpdateOIDCProvider of a missing provider", err, store.KindOIDCProvider)

	var all []string
	for i := range 12 {
		p, err := s.CreateOIDCProvider(ctx, newOIDCProvider(fmt.Sprintf("issuer-%02d.example.com", i)))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.ARN)
	}
	all = append(all, bare.ARN, want.ARN)
	slices.Sort(all)
	for _, limit := range []int{1, 5, 100} {
		got := pageAll(t, limit, len(all), func(p store.Page) ([]store.OIDCProvider, string, error) { return s.ListOIDCProviders(ctx, p) },
			func(p store.OIDCProvider) string { return p.ARN })
		if diff := cmp.Diff(got, all); diff != "" {
			t.Errorf("ListOIDCProviders limit %d (-got +want):\n%s", limit, diff)
		}
	}

	gone, err := s.DeleteOIDCProvider(ctx, want.ARN)
	if err != nil {
		t.Fatalf("DeleteOIDCProvider: %v", err)
	}
	if gone.URL != want.URL {
		t.Errorf("DeleteOIDCProvider returned %+v", gone)
	}
	_, err = s.GetOIDCProvider(ctx, want.ARN)
	wantMissing(t, "GetOIDCProvider after DeleteOIDCProvider", err, store.KindOIDCProvider)
	_, err = s.DeleteOIDCProvider(ctx, want.ARN)
	wantMissing(t, "DeleteOIDCProvider again", err, store.KindOIDCProvider)
}

// testIAMConcurrentOIDCClientIDs: concurrent read-modify-write updates
// of one provider lose no client ID.
func testIAMConcurrentOIDCClientIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	p, err := s.CreateOIDCProvider(ctx, newOIDCProvider("concurrent.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateOIDCProvider(ctx, p.ARN, func(p *store.OIDCProvider) error {
				p.ClientIDs = append(p.ClientIDs, "client-"+strconv.Itoa(i))
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetOIDCProvider(ctx, p.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ClientIDs) != n+1 {
		t.Errorf("%d concurrent client ID adds left %d client IDs, want %d: %v", n, len(got.ClientIDs), n+1, got.ClientIDs)
	}
}
