package storecore

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/store"
)

// AppendAssociationJSON appends json.Marshal's encoding of a to b, without
// its reflection: the idempotency record that every create and update of
// an association with a client request token stores (Remember), encoded in
// the store writer's turn, where writes wait for one another.
func AppendAssociationJSON(b []byte, a *store.Association) ([]byte, error) {
	if !jsonTime(a.CreatedAt) || !jsonTime(a.ModifiedAt) {
		// json.Marshal's refusal (or its encoding, should that change).
		v, err := json.Marshal(a)
		return append(b, v...), err
	}
	o := eksapi.JSONObject{B: append(b, '{')}
	o.Str("Region", a.Region, false)
	o.Str("ID", a.ID, false)
	o.Str("ClusterName", a.ClusterName, false)
	o.Str("Namespace", a.Namespace, false)
	o.Str("ServiceAccount", a.ServiceAccount, false)
	o.Str("RoleARN", a.RoleARN, false)
	o.Str("TargetRoleARN", a.TargetRoleARN, false)
	o.Str("ExternalID", a.ExternalID, false)
	o.Str("Policy", a.Policy, false)
	o.Key("DisableSessionTags")
	o.B = strconv.AppendBool(o.B, a.DisableSessionTags)
	o.Str("OwnerARN", a.OwnerARN, false)
	o.Key("Tags")
	o.B = eksapi.AppendJSONStringMap(o.B, a.Tags)
	o.Key("CreatedAt")
	o.B = appendJSONTime(o.B, a.CreatedAt)
	o.Key("ModifiedAt")
	o.B = appendJSONTime(o.B, a.ModifiedAt)
	o.Key("Revision")
	o.B = strconv.AppendInt(o.B, a.Revision, 10)
	return append(o.B, '}'), nil
}

// jsonTime reports whether t is a time time.Time.MarshalJSON encodes as
// RFC 3339 with nanoseconds (appendJSONTime): a four-digit year and a zone
// offset in whole minutes of less than a day.
func jsonTime(t time.Time) bool {
	_, offset := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && offset%60 == 0 && offset > -24*3600 && offset < 24*3600
}

// appendJSONTime is time.Time.MarshalJSON for a jsonTime time.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
