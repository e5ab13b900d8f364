package storecore_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// TestAppendAssociationJSON: byte for byte json.Marshal's encoding, for
// plain and escaped strings, nil, empty and full tags, and times of any
// zone and precision (and, through json.Marshal, ones it refuses).
func TestAppendAssociationJSON(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891_234_000, time.UTC)
	full := store.Association{
		Region: "us-west-2", ID: "a-0123456789abcdefg", ClusterName: "dev", Namespace: "default", ServiceAccount: "app",
		RoleARN: "arn:aws:iam::111122223333:role/app", TargetRoleARN: "arn:aws:iam::444455556666:role/t",
		ExternalID: "x-<&>\"\\\u00e9\u2028", Policy: `{"Version":"2012-10-17","Statement":[]}`, DisableSessionTags: true,
		OwnerARN: "arn:aws:iam::111122223333:root", Tags: map[string]string{"b": "2", "a": "\x01", "é": "<tag>"},
		CreatedAt: at, ModifiedAt: at.Add(time.Millisecond), Revision: 42,
	}
	cases := map[string]store.Association{
		"zero":     {},
		"full":     full,
		"no tags":  func() store.Association { a := full; a.Tags = map[string]string{}; return a }(),
		"nil tags": func() store.Association { a := full; a.Tags = nil; return a }(),
		"zoned": func() store.Association {
			a := full
			a.CreatedAt = at.In(time.FixedZone("x", -(3*3600 + 30*60)))
			a.ModifiedAt = at.Truncate(time.Second)
			return a
		}(),
		"year 10000": func() store.Association { a := full; a.ModifiedAt = at.AddDate(8000, 0, 0); return a }(),
		"odd zone":   func() store.Association { a := full; a.CreatedAt = at.In(time.FixedZone("lmt", 17)); return a }(),
	}
	for name, a := range cases {
		want, wantErr := json.Marshal(a)
		got, err := storecore.AppendAssociationJSON([]byte("prefix"), &a)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%s: error %v, json.Marshal's %v", name, err, wantErr)
			continue
		}
		if err == nil && string(got) != "prefix"+string(want) {
			t.Errorf("%s:\n got %s\nwant prefix%s", name, got, want)
		}
	}
}
