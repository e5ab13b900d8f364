package storecore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/podid/podid/internal/store"
)

// IAM records live in one table of small JSON documents keyed by (kind,
// key): IAM's records are read and written whole, a few at a time, and
// their rules (case-insensitive names, attachment counts, access keys
// following their user) are the same in every backend, so they are
// written once here over a backend's four statements.

// IAMRow is one row of the IAM table.
type IAMRow struct {
	Key string
	Doc []byte
}

// IAMReader reads the IAM table: inside a write transaction, or the latest
// committed state statement by statement (each read may see writes the
// previous one did not).
type IAMReader interface {
	// Get returns the document of (kind, key); found is false when there
	// is none.
	Get(kind, key string) (doc []byte, found bool, err error)
	// Scan returns up to limit rows of kind with a key after after, in
	// key order (bytewise).
	Scan(kind, after string, limit int) ([]IAMRow, error)
	// IAMRevision is the revision of the newest IAM write.
	IAMRevision() (int64, error)
}

// IAMTx is the IAM table inside a backend's write transaction, which
// every other writer waits for.
type IAMTx interface {
	IAMReader
	// Put inserts or replaces the document of (kind, key).
	Put(kind, key string, doc []byte) error
	// Delete removes (kind, key) if present.
	Delete(kind, key string) error
	// Revision reserves the write's revision of the store-wide counter
	// and records it as the IAM revision. A write calls it once.
	Revision() (int64, error)
}

// The kinds of rows of the IAM table.
const (
	iamRole   = "role"
	iamUser   = "user"
	iamPolicy = "policy"
	iamKey    = "key"  // keyed by access key ID
	iamOIDC   = "oidc" // keyed by ARN
)

// IAM implements store.IAM over a backend's write transactions and read
// snapshots; a backend embeds it in its Store (NewIAM).
type IAM struct {
	write func(ctx context.Context, fn func(IAMTx) error) error
	read  func(ctx context.Context, fn func(IAMReader) error) error
}

// NewIAM returns the IAM methods of a backend: write runs fn in one write
// transaction and commits it (fn's error rolls back and comes back as
// is); read runs fn on the latest committed state, without a transaction
// (a read transaction costs several point reads; the reads that combine
// records are written to stay right without one).
func NewIAM(write func(ctx context.Context, fn func(IAMTx) error) error,
	read func(ctx context.Context, fn func(IAMReader) error) error) IAM {
	return IAM{write: write, read: read}
}

var _ store.IAM = IAM{}

// userDoc is a user's row: the record and its access key IDs, oldest
// first.
type userDoc struct {
	store.User
	Keys []string `json:",omitempty"`
}

func getDoc[T any](r IAMReader, kind, key string, missing *store.MissingError) (T, error) {
	var v T
	b, found, err := r.Get(kind, key)
	if err != nil {
		return v, err
	}
	if !found {
		return v, missing
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decoding %s %q: %w", kind, key, err)
	}
	return v, nil
}

func putDoc(tx IAMTx, kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s %q: %w", kind, key, err)
	}
	return tx.Put(kind, key, b)
}

// absent fails with an *store.ExistsError when (kind, key) exists.
func absent(r IAMReader, kind, key string, what store.Kind, name string) error {
	_, found, err := r.Get(kind, key)
	if err == nil && found {
		err = &store.ExistsError{Kind: what, ID: name}
	}
	return err
}

func missing(kind store.Kind, name string) *store.MissingError {
	return &store.MissingError{Kind: kind, Name: name}
}

// policyKey is the key of the managed policy an ARN names: its name.
func policyKey(arn string) string { return store.IAMKey(arn[strings.LastIndexByte(arn, '/')+1:]) }

func normalizeRole(r *store.Role) {
	r.Path = defaultPath(r.Path)
	r.CreatedAt = StoredTime(r.CreatedAt)
	r.Tags = nonNilMap(r.Tags)
	r.Policies = nonNilMap(r.Policies)
	if r.AttachedPolicies == nil {
		r.AttachedPolicies = []string{}
	}
}

func normalizeUser(u *store.User) {
	u.Path = defaultPath(u.Path)
	u.CreatedAt = StoredTime(u.CreatedAt)
	u.Tags = nonNilMap(u.Tags)
	u.Policies = nonNilMap(u.Policies)
	if u.AttachedPolicies == nil {
		u.AttachedPolicies = []string{}
	}
}

func normalizePolicy(mp *store.ManagedPolicy) {
	mp.Path = defaultPath(mp.Path)
	mp.CreatedAt = StoredTime(mp.CreatedAt)
	mp.UpdatedAt = StoredTime(mp.UpdatedAt)
	mp.Tags = nonNilMap(mp.Tags)
	for i := range mp.Versions {
		mp.Versions[i].CreatedAt = StoredTime(mp.Versions[i].CreatedAt)
	}
}

func defaultPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// do runs fn in a write transaction, with WriteError's error shape.
func iamDo[T any](ctx context.Context, m IAM, fn func(IAMTx) (T, error), format string, args ...any) (T, error) {
	return Do(ctx, m.write, fn, format, args...)
}

// iamView runs fn on the latest committed state, with context on its
// error.
func iamView[T any](ctx context.Context, m IAM, fn func(IAMReader) (T, error), format string, args ...any) (T, error) {
	var out T
	err := m.read(ctx, func(r IAMReader) error {
		v, err := fn(r)
		out = v
		return err
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf(format+": %w", append(args, err)...)
	}
	return out, nil
}

// CreateRole implements store.IAM.
func (m IAM) CreateRole(ctx context.Context, r store.Role) (store.Role, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.Role, error) {
		key := store.IAMKey(r.Name)
		if err := absent(tx, iamRole, key, store.KindRole, r.Name); err != nil {
			return r, err
		}
		normalizeRole(&r)
		r.AttachedPolicies = []string{}
		var err error
		if r.Revision, err = tx.Revision(); err != nil {
			return r, err
		}
		return r, putDoc(tx, iamRole, key, r)
	}, "creating role %q", r.Name)
}

// GetRole implements store.IAM.
func (m IAM) GetRole(ctx context.Context, name string) (store.Role, error) {
	return iamView(ctx, m, func(r IAMReader) (store.Role, error) {
		return getDoc[store.Role](r, iamRole, store.IAMKey(name), missing(store.KindRole, name))
	}, "getting role %q", name)
}

// UpdateRole implements store.IAM.
func (m IAM) UpdateRole(ctx context.Context, name string, fn func(*store.Role) error) (store.Role, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.Role, error) {
		key := store.IAMKey(name)
		r, err := getDoc[store.Role](tx, iamRole, key, missing(store.KindRole, name))
		if err != nil {
			return r, err
		}
		was := r
		was.AttachedPolicies = slices.Clone(r.AttachedPolicies)
		if err := fn(&r); err != nil {
			return r, &fnError{err}
		}
		r.Name, r.Path, r.ID, r.ARN, r.CreatedAt, r.AttachedPolicies = was.Name, was.Path, was.ID, was.ARN, was.CreatedAt, was.AttachedPolicies
		normalizeRole(&r)
		if r.Revision, err = tx.Revision(); err != nil {
			return r, err
		}
		return r, putDoc(tx, iamRole, key, r)
	}, "updating role %q", name)
}

// DeleteRole implements store.IAM.
func (m IAM) DeleteRole(ctx context.Context, name string) (store.Role, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.Role, error) {
		key := store.IAMKey(name)
		r, err := getDoc[store.Role](tx, iamRole, key, missing(store.KindRole, name))
		switch {
		case err != nil:
			return r, err
		case len(r.Policies) > 0:
			return r, &store.InUseError{Conflict: store.ConflictPolicies}
		case len(r.AttachedPolicies) > 0:
			return r, &store.InUseError{Conflict: store.ConflictAttached}
		}
		if r.Revision, err = tx.Revision(); err != nil {
			return r, err
		}
		return r, tx.Delete(iamRole, key)
	}, "deleting role %q", name)
}

// ListRoles implements store.IAM.
func (m IAM) ListRoles(ctx context.Context, pathPrefix string, p store.Page) ([]store.Role, string, error) {
	return listIAM(ctx, m, iamRole, pathPrefix, p, func(r store.Role) string { return r.Path },
		func(r store.Role) string { return store.IAMKey(r.Name) })
}

// listIAM reads a page of kind's records whose path starts with
// pathPrefix, in key order, scanning batches until the page (and one more
// record, telling that there is a next page) is full or the kind ends.
func listIAM[T any](ctx context.Context, m IAM, kind, pathPrefix string, p store.Page, path, key func(T) string) ([]T, string, error) {
	if err := CheckPage(p); err != nil {
		return nil, "", err
	}
	type page struct {
		items []T
		next  string
	}
	out, err := iamView(ctx, m, func(r IAMReader) (page, error) {
		batch := max(p.Limit+1, 100)
		var items []T
		for after := p.After; len(items) <= p.Limit; {
			rows, err := r.Scan(kind, after, batch)
			if err != nil {
				return page{}, err
			}
			for _, row := range rows {
				var v T
				if err := json.Unmarshal(row.Doc, &v); err != nil {
					return page{}, fmt.Errorf("decoding %s %q: %w", kind, row.Key, err)
				}
				if strings.HasPrefix(path(v), pathPrefix) {
					items = append(items, v)
				}
			}
			if len(rows) < batch {
				break
			}
			after = rows[len(rows)-1].Key
		}
		items, next := CutPage(items, p, key)
		return page{items, next}, nil
	}, "listing %ss", kind)
	return out.items, out.next, err
}

// CreateUser implements store.IAM.
func (m IAM) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.User, error) {
		key := store.IAMKey(u.Name)
		if err := absent(tx, iamUser, key, store.KindUser, u.Name); err != nil {
			return u, err
		}
		normalizeUser(&u)
		u.AttachedPolicies = []string{}
		var err error
		if u.Revision, err = tx.Revision(); err != nil {
			return u, err
		}
		return u, putDoc(tx, iamUser, key, userDoc{User: u})
	}, "creating user %q", u.Name)
}

func getUser(r IAMReader, name string) (userDoc, error) {
	return getDoc[userDoc](r, iamUser, store.IAMKey(name), missing(store.KindUser, name))
}

// GetUser implements store.IAM.
func (m IAM) GetUser(ctx context.Context, name string) (store.User, error) {
	return iamView(ctx, m, func(r IAMReader) (store.User, error) {
		d, err := getUser(r, name)
		return d.User, err
	}, "getting user %q", name)
}

// UpdateUser implements store.IAM.
func (m IAM) UpdateUser(ctx context.Context, name string, fn func(*store.User) error) (store.User, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.User, error) {
		d, err := getUser(tx, name)
		if err != nil {
			return d.User, err
		}
		was := d.User
		was.AttachedPolicies = slices.Clone(d.AttachedPolicies)
		if err := fn(&d.User); err != nil {
			return d.User, &fnError{err}
		}
		d.ID, d.CreatedAt, d.AttachedPolicies = was.ID, was.CreatedAt, was.AttachedPolicies
		normalizeUser(&d.User)
		if d.Revision, err = tx.Revision(); err != nil {
			return d.User, err
		}
		oldKey, newKey := store.IAMKey(was.Name), store.IAMKey(d.Name)
		if newKey != oldKey {
			if err := absent(tx, iamUser, newKey, store.KindUser, d.Name); err != nil {
				return d.User, err
			}
			if err := tx.Delete(iamUser, oldKey); err != nil {
				return d.User, err
			}
		}
		if d.Name != was.Name {
			for _, id := range d.Keys {
				k, err := getDoc[store.AccessKey](tx, iamKey, id, missing(store.KindAccessKey, id))
				if err != nil {
					return d.User, err
				}
				k.UserName, k.Revision = d.Name, d.Revision
				if err := putDoc(tx, iamKey, id, k); err != nil {
					return d.User, err
				}
			}
		}
		return d.User, putDoc(tx, iamUser, newKey, d)
	}, "updating user %q", name)
}

// DeleteUser implements store.IAM.
func (m IAM) DeleteUser(ctx context.Context, name string) (store.User, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.User, error) {
		d, err := getUser(tx, name)
		switch {
		case err != nil:
			return d.User, err
		case len(d.Keys) > 0:
			return d.User, &store.InUseError{Conflict: store.ConflictAccessKeys}
		case len(d.Policies) > 0:
			return d.User, &store.InUseError{Conflict: store.ConflictPolicies}
		case len(d.AttachedPolicies) > 0:
			return d.User, &store.InUseError{Conflict: store.ConflictAttached}
		}
		if d.Revision, err = tx.Revision(); err != nil {
			return d.User, err
		}
		return d.User, tx.Delete(iamUser, store.IAMKey(name))
	}, "deleting user %q", name)
}

// ListUsers implements store.IAM.
func (m IAM) ListUsers(ctx context.Context, pathPrefix string, p store.Page) ([]store.User, string, error) {
	docs, next, err := listIAM(ctx, m, iamUser, pathPrefix, p, func(d userDoc) string { return d.Path },
		func(d userDoc) string { return store.IAMKey(d.Name) })
	users := make([]store.User, len(docs))
	for i, d := range docs {
		users[i] = d.User
	}
	return users, next, err
}

// CreatePolicy implements store.IAM.
func (m IAM) CreatePolicy(ctx context.Context, mp store.ManagedPolicy) (store.ManagedPolicy, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.ManagedPolicy, error) {
		key := store.IAMKey(mp.Name)
		if err := absent(tx, iamPolicy, key, store.KindPolicy, mp.Name); err != nil {
			return mp, err
		}
		if _, ok := mp.Version(mp.DefaultVersion); !ok {
			return mp, fmt.Errorf("default version %q is not one of the policy's versions", mp.DefaultVersion)
		}
		normalizePolicy(&mp)
		mp.AttachmentCount = 0
		var err error
		if mp.Revision, err = tx.Revision(); err != nil {
			return mp, err
		}
		return mp, putDoc(tx, iamPolicy, key, mp)
	}, "creating policy %q", mp.Name)
}

func getPolicy(r IAMReader, arn string) (store.ManagedPolicy, error) {
	mp, err := getDoc[store.ManagedPolicy](r, iamPolicy, policyKey(arn), missing(store.KindPolicy, arn))
	if err == nil && mp.ARN != arn {
		err = missing(store.KindPolicy, arn)
	}
	return mp, err
}

// GetPolicy implements store.IAM.
func (m IAM) GetPolicy(ctx context.Context, arn string) (store.ManagedPolicy, error) {
	return iamView(ctx, m, func(r IAMReader) (store.ManagedPolicy, error) {
		return getPolicy(r, arn)
	}, "getting policy %s", arn)
}

// UpdatePolicy implements store.IAM.
func (m IAM) UpdatePolicy(ctx context.Context, arn string, fn func(*store.ManagedPolicy) error) (store.ManagedPolicy, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.ManagedPolicy, error) {
		mp, err := getPolicy(tx, arn)
		if err != nil {
			return mp, err
		}
		was := mp
		mp.Versions = slices.Clone(mp.Versions)
		if err := fn(&mp); err != nil {
			return mp, &fnError{err}
		}
		mp.Name, mp.Path, mp.ID, mp.ARN, mp.CreatedAt, mp.AttachmentCount = was.Name, was.Path, was.ID, was.ARN, was.CreatedAt, was.AttachmentCount
		if _, ok := mp.Version(mp.DefaultVersion); !ok {
			return mp, fmt.Errorf("default version %q is not one of the policy's versions", mp.DefaultVersion)
		}
		normalizePolicy(&mp)
		if mp.Revision, err = tx.Revision(); err != nil {
			return mp, err
		}
		return mp, putDoc(tx, iamPolicy, policyKey(arn), mp)
	}, "updating policy %s", arn)
}

// DeletePolicy implements store.IAM.
func (m IAM) DeletePolicy(ctx context.Context, arn string) (store.ManagedPolicy, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.ManagedPolicy, error) {
		mp, err := getPolicy(tx, arn)
		switch {
		case err != nil:
			return mp, err
		case mp.AttachmentCount > 0:
			return mp, &store.InUseError{Conflict: store.ConflictPolicyAttached}
		case len(mp.Versions) > 1:
			return mp, &store.InUseError{Conflict: store.ConflictPolicyVersions}
		}
		if mp.Revision, err = tx.Revision(); err != nil {
			return mp, err
		}
		return mp, tx.Delete(iamPolicy, policyKey(arn))
	}, "deleting policy %s", arn)
}

// ListPolicies implements store.IAM.
func (m IAM) ListPolicies(ctx context.Context, pathPrefix string, p store.Page) ([]store.ManagedPolicy, string, error) {
	return listIAM(ctx, m, iamPolicy, pathPrefix, p, func(mp store.ManagedPolicy) string { return mp.Path },
		func(mp store.ManagedPolicy) string { return store.IAMKey(mp.Name) })
}

// attachable is a role's or a user's attached policies inside a write,
// and how to store them.
type attachable struct {
	attached *[]string
	save     func(rev int64) error
}

func loadAttachable(tx IAMTx, kind store.Kind, name string) (attachable, error) {
	switch kind {
	case store.KindRole:
		key := store.IAMKey(name)
		r, err := getDoc[store.Role](tx, iamRole, key, missing(store.KindRole, name))
		if err != nil {
			return attachable{}, err
		}
		return attachable{&r.AttachedPolicies, func(rev int64) error {
			r.Revision = rev
			return putDoc(tx, iamRole, key, r)
		}}, nil
	case store.KindUser:
		d, err := getUser(tx, name)
		if err != nil {
			return attachable{}, err
		}
		return attachable{&d.AttachedPolicies, func(rev int64) error {
			d.Revision = rev
			return putDoc(tx, iamUser, store.IAMKey(name), d)
		}}, nil
	}
	return attachable{}, fmt.Errorf("policies attach to roles and users, not to a %s", kind)
}

// AttachPolicy implements store.IAM.
func (m IAM) AttachPolicy(ctx context.Context, kind store.Kind, name, arn string, limit int) error {
	_, err := iamDo(ctx, m, func(tx IAMTx) (struct{}, error) {
		e, err := loadAttachable(tx, kind, name)
		if err != nil {
			return struct{}{}, err
		}
		mp, err := getPolicy(tx, arn)
		if err != nil {
			return struct{}{}, err
		}
		if slices.Contains(*e.attached, arn) {
			return struct{}{}, nil
		}
		if limit > 0 && len(*e.attached) >= limit {
			return struct{}{}, &store.LimitError{Kind: store.KindAttachment, Entity: kind, Limit: limit}
		}
		*e.attached = append(*e.attached, arn)
		mp.AttachmentCount++
		return struct{}{}, savePolicyAndEntity(tx, mp, e)
	}, "attaching policy %s to %s %q", arn, kind, name)
	return err
}

// DetachPolicy implements store.IAM.
func (m IAM) DetachPolicy(ctx context.Context, kind store.Kind, name, arn string) error {
	_, err := iamDo(ctx, m, func(tx IAMTx) (struct{}, error) {
		e, err := loadAttachable(tx, kind, name)
		if err != nil {
			return struct{}{}, err
		}
		i := slices.Index(*e.attached, arn)
		if i < 0 {
			return struct{}{}, missing(store.KindAttachment, arn)
		}
		*e.attached = slices.Delete(*e.attached, i, i+1)
		mp, err := getPolicy(tx, arn)
		if err != nil {
			return struct{}{}, err
		}
		mp.AttachmentCount--
		return struct{}{}, savePolicyAndEntity(tx, mp, e)
	}, "detaching policy %s from %s %q", arn, kind, name)
	return err
}

func savePolicyAndEntity(tx IAMTx, mp store.ManagedPolicy, e attachable) error {
	rev, err := tx.Revision()
	if err != nil {
		return err
	}
	mp.Revision = rev
	if err := putDoc(tx, iamPolicy, policyKey(mp.ARN), mp); err != nil {
		return err
	}
	return e.save(rev)
}

// CreateAccessKey implements store.IAM.
func (m IAM) CreateAccessKey(ctx context.Context, k store.AccessKey, limit int) (store.AccessKey, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.AccessKey, error) {
		d, err := getUser(tx, k.UserName)
		if err != nil {
			return k, err
		}
		if limit > 0 && len(d.Keys) >= limit {
			return k, &store.LimitError{Kind: store.KindAccessKey, Entity: store.KindUser, Limit: limit}
		}
		if err := absent(tx, iamKey, k.ID, store.KindAccessKey, k.ID); err != nil {
			return k, err
		}
		k.UserName = d.Name
		k.CreatedAt = StoredTime(k.CreatedAt)
		if k.Revision, err = tx.Revision(); err != nil {
			return k, err
		}
		if err := putDoc(tx, iamKey, k.ID, k); err != nil {
			return k, err
		}
		d.Keys = append(d.Keys, k.ID)
		d.Revision = k.Revision
		return k, putDoc(tx, iamUser, store.IAMKey(d.Name), d)
	}, "creating an access key for user %q", k.UserName)
}

// ListAccessKeys implements store.IAM.
func (m IAM) ListAccessKeys(ctx context.Context, userName string) ([]store.AccessKey, error) {
	return iamView(ctx, m, func(r IAMReader) ([]store.AccessKey, error) {
		d, err := getUser(r, userName)
		if err != nil {
			return nil, err
		}
		keys := make([]store.AccessKey, 0, len(d.Keys))
		for _, id := range d.Keys {
			k, err := getDoc[store.AccessKey](r, iamKey, id, missing(store.KindAccessKey, id))
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		return keys, nil
	}, "listing access keys of user %q", userName)
}

// usersKey reads access key id for a write, refusing a key that is not
// userName's as missing.
func usersKey(tx IAMTx, userName, id string) (store.AccessKey, error) {
	k, err := getDoc[store.AccessKey](tx, iamKey, id, missing(store.KindAccessKey, id))
	if err == nil && store.IAMKey(k.UserName) != store.IAMKey(userName) {
		err = missing(store.KindAccessKey, id)
	}
	return k, err
}

// SetAccessKeyStatus implements store.IAM.
func (m IAM) SetAccessKeyStatus(ctx context.Context, userName, id string, status store.AccessKeyStatus) (store.AccessKey, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.AccessKey, error) {
		k, err := usersKey(tx, userName, id)
		if err != nil {
			return k, err
		}
		k.Status = status
		if k.Revision, err = tx.Revision(); err != nil {
			return k, err
		}
		return k, putDoc(tx, iamKey, id, k)
	}, "updating access key %s", id)
}

// DeleteAccessKey implements store.IAM.
func (m IAM) DeleteAccessKey(ctx context.Context, userName, id string) (store.AccessKey, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.AccessKey, error) {
		k, err := usersKey(tx, userName, id)
		if err != nil {
			return k, err
		}
		d, err := getUser(tx, k.UserName)
		if err != nil {
			return k, err
		}
		d.Keys = slices.DeleteFunc(d.Keys, func(s string) bool { return s == id })
		if k.Revision, err = tx.Revision(); err != nil {
			return k, err
		}
		d.Revision = k.Revision
		if err := putDoc(tx, iamUser, store.IAMKey(d.Name), d); err != nil {
			return k, err
		}
		return k, tx.Delete(iamKey, id)
	}, "deleting access key %s", id)
}

// LookupAccessKey implements store.IAM.
func (m IAM) LookupAccessKey(ctx context.Context, id string) (store.AccessKey, store.User, error) {
	type found struct {
		k store.AccessKey
		u store.User
	}
	out, err := iamView(ctx, m, func(r IAMReader) (found, error) {
		// A rename between the two reads moves the user away from the
		// name the key had: the key is read again (bounded; renames are
		// rare), never refused for it.
		for range 3 {
			k, err := getDoc[store.AccessKey](r, iamKey, id, missing(store.KindAccessKey, id))
			if err != nil {
				return found{}, err
			}
			d, err := getUser(r, k.UserName)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return found{k, d.User}, err
		}
		return found{}, missing(store.KindAccessKey, id)
	}, "looking up access key %s", id)
	return out.k, out.u, err
}

// RolePrincipal implements store.IAM.
func (m IAM) RolePrincipal(ctx context.Context, name string) (store.Principal, error) {
	return iamView(ctx, m, func(r IAMReader) (store.Principal, error) {
		rev, err := r.IAMRevision()
		if err != nil {
			return store.Principal{}, err
		}
		role, err := getDoc[store.Role](r, iamRole, store.IAMKey(name), missing(store.KindRole, name))
		if err != nil {
			return store.Principal{}, err
		}
		return principal(r, store.Principal{Role: &role, IAMRevision: rev}, role.AttachedPolicies, role.PermissionsBoundary)
	}, "reading the policies of role %q", name)
}

// UserPrincipal implements store.IAM.
func (m IAM) UserPrincipal(ctx context.Context, name string) (store.Principal, error) {
	return iamView(ctx, m, func(r IAMReader) (store.Principal, error) {
		rev, err := r.IAMRevision()
		if err != nil {
			return store.Principal{}, err
		}
		d, err := getUser(r, name)
		if err != nil {
			return store.Principal{}, err
		}
		return principal(r, store.Principal{User: &d.User, IAMRevision: rev}, d.AttachedPolicies, d.PermissionsBoundary)
	}, "reading the policies of user %q", name)
}

// principal completes p with the attached policies' and the permissions
// boundary's documents. The IAM revision was read before any record: what
// was read is at least as new as it, so a cache keyed by it refreshes on
// the next change at the latest.
func principal(r IAMReader, p store.Principal, attached []string, boundary string) (store.Principal, error) {
	for _, arn := range attached {
		ap, err := policyInEffect(r, arn)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return p, err
		}
		p.Attached = append(p.Attached, ap)
	}
	if boundary != "" {
		ap, err := policyInEffect(r, boundary)
		switch {
		case err == nil:
			p.Boundary = &ap
		case !errors.Is(err, store.ErrNotFound):
			return p, err
		}
	}
	return p, nil
}

// policyInEffect reads the default version of the managed policy arn.
func policyInEffect(r IAMReader, arn string) (store.AttachedPolicy, error) {
	mp, err := getPolicy(r, arn)
	if err != nil {
		return store.AttachedPolicy{}, err
	}
	v, _ := mp.Version(mp.DefaultVersion)
	return store.AttachedPolicy{ARN: arn, Name: mp.Name, VersionID: v.ID, Document: v.Document}, nil
}

// IAMRevision implements store.IAM.
func (m IAM) IAMRevision(ctx context.Context) (int64, error) {
	return iamView(ctx, m, func(r IAMReader) (int64, error) { return r.IAMRevision() }, "reading the IAM revision")
}

func normalizeOIDC(p *store.OIDCProvider) {
	p.CreatedAt = StoredTime(p.CreatedAt)
	p.Tags = nonNilMap(p.Tags)
	if p.ClientIDs == nil {
		p.ClientIDs = []string{}
	}
	if p.Thumbprints == nil {
		p.Thumbprints = []string{}
	}
}

func getOIDC(r IAMReader, arn string) (store.OIDCProvider, error) {
	return getDoc[store.OIDCProvider](r, iamOIDC, arn, missing(store.KindOIDCProvider, arn))
}

// CreateOIDCProvider implements store.IAM.
func (m IAM) CreateOIDCProvider(ctx context.Context, p store.OIDCProvider) (store.OIDCProvider, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.OIDCProvider, error) {
		if err := absent(tx, iamOIDC, p.ARN, store.KindOIDCProvider, p.URL); err != nil {
			return p, err
		}
		normalizeOIDC(&p)
		var err error
		if p.Revision, err = tx.Revision(); err != nil {
			return p, err
		}
		return p, putDoc(tx, iamOIDC, p.ARN, p)
	}, "creating OpenID Connect provider %s", p.ARN)
}

// GetOIDCProvider implements store.IAM.
func (m IAM) GetOIDCProvider(ctx context.Context, arn string) (store.OIDCProvider, error) {
	return iamView(ctx, m, func(r IAMReader) (store.OIDCProvider, error) {
		return getOIDC(r, arn)
	}, "getting OpenID Connect provider %s", arn)
}

// UpdateOIDCProvider implements store.IAM.
func (m IAM) UpdateOIDCProvider(ctx context.Context, arn string, fn func(*store.OIDCProvider) error) (store.OIDCProvider, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.OIDCProvider, error) {
		p, err := getOIDC(tx, arn)
		if err != nil {
			return p, err
		}
		was := p
		if err := fn(&p); err != nil {
			return p, &fnError{err}
		}
		p.ARN, p.URL, p.CreatedAt = was.ARN, was.URL, was.CreatedAt
		normalizeOIDC(&p)
		if p.Revision, err = tx.Revision(); err != nil {
			return p, err
		}
		return p, putDoc(tx, iamOIDC, arn, p)
	}, "updating OpenID Connect provider %s", arn)
}

// DeleteOIDCProvider implements store.IAM.
func (m IAM) DeleteOIDCProvider(ctx context.Context, arn string) (store.OIDCProvider, error) {
	return iamDo(ctx, m, func(tx IAMTx) (store.OIDCProvider, error) {
		p, err := getOIDC(tx, arn)
		if err != nil {
			return p, err
		}
		if p.Revision, err = tx.Revision(); err != nil {
			return p, err
		}
		return p, tx.Delete(iamOIDC, arn)
	}, "deleting OpenID Connect provider %s", arn)
}

// ListOIDCProviders implements store.IAM.
func (m IAM) ListOIDCProviders(ctx context.Context, p store.Page) ([]store.OIDCProvider, string, error) {
	return listIAM(ctx, m, iamOIDC, "", p, func(store.OIDCProvider) string { return "" },
		func(o store.OIDCProvider) string { return o.ARN })
}
