package storecore

import (
	"encoding/json"
	"strconv"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/store"
)

// AppendAssociationJSON appends json.Marshal's encoding of a to b, without
// its reflection: the idempotency record that every create and update of
// an association with a client request token stores (Remember), encoded in
// the store writer's turn, where writes wait for one another.
func AppendAssociationJSON(b []byte, a *store.Association) ([]byte, error) {
	if !eksapi.TimeJSONOK(a.CreatedAt) || !eksapi.TimeJSONOK(a.ModifiedAt) {
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
	o.B = eksapi.AppendTimeJSON(o.B, a.CreatedAt)
	o.Key("ModifiedAt")
	o.B = eksapi.AppendTimeJSON(o.B, a.ModifiedAt)
	o.Key("Revision")
	o.B = strconv.AppendInt(o.B, a.Revision, 10)
	return append(o.B, '}'), nil
}
