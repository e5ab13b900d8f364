package eksapi

import (
	"encoding/json"
	"slices"
	"strconv"
)

// The responses of the hottest operations write their own JSON
// (AppendJSON, httpx.JSONAppender), byte for byte what json.Marshal writes,
// without its reflection: Describe, Create, Update and Delete of an
// association, and EKS Auth's AssumeRoleForPodIdentity.

// AppendJSON appends json.Marshal's encoding of o to b.
func (o *AssociationOutput) AppendJSON(b []byte) ([]byte, error) {
	if o == nil {
		return append(b, "null"...), nil
	}
	if o.Association == nil {
		return append(b, "{}"...), nil
	}
	b = append(b, `{"association":`...)
	b = o.Association.appendJSON(b)
	return append(b, '}'), nil
}

func (a *PodIdentityAssociation) appendJSON(b []byte) []byte {
	o := object{b: append(b, '{')}
	o.str("clusterName", a.ClusterName, true)
	o.str("namespace", a.Namespace, true)
	o.str("serviceAccount", a.ServiceAccount, true)
	o.str("roleArn", a.RoleArn, true)
	o.str("associationArn", a.AssociationArn, true)
	o.str("associationId", a.AssociationId, true)
	o.key("tags")
	o.b = appendStringMap(o.b, a.Tags)
	o.time("createdAt", a.CreatedAt)
	o.time("modifiedAt", a.ModifiedAt)
	o.str("ownerArn", a.OwnerArn, true)
	if a.DisableSessionTags != nil {
		o.key("disableSessionTags")
		o.b = strconv.AppendBool(o.b, *a.DisableSessionTags)
	}
	o.str("targetRoleArn", a.TargetRoleArn, true)
	o.str("externalId", a.ExternalId, true)
	o.str("policy", a.Policy, true)
	return append(o.b, '}')
}

// AppendJSON appends json.Marshal's encoding of o to b.
func (o *AssumeRoleForPodIdentityOutput) AppendJSON(b []byte) ([]byte, error) {
	if o == nil {
		return append(b, "null"...), nil
	}
	w := object{b: append(b, '{')}
	w.key("subject")
	if s := o.Subject; s == nil {
		w.b = append(w.b, "null"...)
	} else {
		v := object{b: append(w.b, '{')}
		v.str("namespace", s.Namespace, false)
		v.str("serviceAccount", s.ServiceAccount, false)
		w.b = append(v.b, '}')
	}
	w.str("audience", o.Audience, false)
	w.key("podIdentityAssociation")
	if p := o.PodIdentityAssociation; p == nil {
		w.b = append(w.b, "null"...)
	} else {
		v := object{b: append(w.b, '{')}
		v.str("associationArn", p.AssociationArn, false)
		v.str("associationId", p.AssociationId, false)
		w.b = append(v.b, '}')
	}
	w.key("assumedRoleUser")
	if u := o.AssumedRoleUser; u == nil {
		w.b = append(w.b, "null"...)
	} else {
		v := object{b: append(w.b, '{')}
		v.str("arn", u.Arn, false)
		v.str("assumeRoleId", u.AssumeRoleId, false)
		w.b = append(v.b, '}')
	}
	w.key("credentials")
	if c := o.Credentials; c == nil {
		w.b = append(w.b, "null"...)
	} else {
		v := object{b: append(w.b, '{')}
		v.str("sessionToken", c.SessionToken, false)
		v.str("secretAccessKey", c.SecretAccessKey, false)
		v.str("accessKeyId", c.AccessKeyId, false)
		v.key("expiration")
		v.b = appendEpochMillis(v.b, c.Expiration.UnixMilli())
		w.b = append(v.b, '}')
	}
	return append(w.b, '}'), nil
}

// object appends an object's members; keys are plain ASCII.
type object struct {
	b    []byte
	some bool
}

func (o *object) key(k string) {
	if o.some {
		o.b = append(o.b, ',')
	}
	o.some = true
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// str appends a string member, or nothing for "" when omitEmpty.
func (o *object) str(k, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	o.key(k)
	o.b = AppendJSONString(o.b, v)
}

// time appends a *Time member with omitempty (nil is left out).
func (o *object) time(k string, t *Time) {
	if t == nil {
		return
	}
	o.key(k)
	o.b = appendEpochMillis(o.b, t.UnixMilli())
}

// AppendJSONString appends s as json.Marshal quotes it: printable ASCII
// other than the characters it escapes goes as it is, anything else through
// json.Marshal. (STS seals sessions with it too.)
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON marks the bytes json.Marshal writes in a string as they are:
// printable ASCII but the quote, the backslash and < > & (escaped for
// HTML).
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendStringMap appends m as json.Marshal does: null when nil, keys
// sorted.
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		b = AppendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendEpochMillis is Time's encoding: epoch seconds with three decimals.
func appendEpochMillis(b []byte, ms int64) []byte {
	if ms < 0 {
		b = append(b, '-')
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}
