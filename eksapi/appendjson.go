package eksapi

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// The responses of the hottest operations write their own JSON
// (AppendJSON, httpx.JSONAppender), byte for byte what json.Marshal writes,
// without its reflection: Describe, Create, Update and Delete of an
// association, EKS Auth's AssumeRoleForPodIdentity, and ListClusters.

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

// AppendJSON appends json.Marshal's encoding of o to b.
func (o *ListClustersOutput) AppendJSON(b []byte) ([]byte, error) {
	if o == nil {
		return append(b, "null"...), nil
	}
	b = append(b, `{"clusters":`...)
	if o.Clusters == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range o.Clusters {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, c)
		}
		b = append(b, ']')
	}
	if o.NextToken != "" {
		b = append(b, `,"nextToken":`...)
		b = AppendJSONString(b, o.NextToken)
	}
	return append(b, '}'), nil
}

func (a *PodIdentityAssociation) appendJSON(b []byte) []byte {
	o := JSONObject{B: append(b, '{')}
	o.Str("clusterName", a.ClusterName, true)
	o.Str("namespace", a.Namespace, true)
	o.Str("serviceAccount", a.ServiceAccount, true)
	o.Str("roleArn", a.RoleArn, true)
	o.Str("associationArn", a.AssociationArn, true)
	o.Str("associationId", a.AssociationId, true)
	o.Key("tags")
	o.B = AppendJSONStringMap(o.B, a.Tags)
	o.time("createdAt", a.CreatedAt)
	o.time("modifiedAt", a.ModifiedAt)
	o.Str("ownerArn", a.OwnerArn, true)
	if a.DisableSessionTags != nil {
		o.Key("disableSessionTags")
		o.B = strconv.AppendBool(o.B, *a.DisableSessionTags)
	}
	o.Str("targetRoleArn", a.TargetRoleArn, true)
	o.Str("externalId", a.ExternalId, true)
	o.Str("policy", a.Policy, true)
	return append(o.B, '}')
}

// AppendJSON appends json.Marshal's encoding of o to b.
func (o *AssumeRoleForPodIdentityOutput) AppendJSON(b []byte) ([]byte, error) {
	if o == nil {
		return append(b, "null"...), nil
	}
	w := JSONObject{B: append(b, '{')}
	w.Key("subject")
	if s := o.Subject; s == nil {
		w.B = append(w.B, "null"...)
	} else {
		v := JSONObject{B: append(w.B, '{')}
		v.Str("namespace", s.Namespace, false)
		v.Str("serviceAccount", s.ServiceAccount, false)
		w.B = append(v.B, '}')
	}
	w.Str("audience", o.Audience, false)
	w.Key("podIdentityAssociation")
	if p := o.PodIdentityAssociation; p == nil {
		w.B = append(w.B, "null"...)
	} else {
		v := JSONObject{B: append(w.B, '{')}
		v.Str("associationArn", p.AssociationArn, false)
		v.Str("associationId", p.AssociationId, false)
		w.B = append(v.B, '}')
	}
	w.Key("assumedRoleUser")
	if u := o.AssumedRoleUser; u == nil {
		w.B = append(w.B, "null"...)
	} else {
		v := JSONObject{B: append(w.B, '{')}
		v.Str("arn", u.Arn, false)
		v.Str("assumeRoleId", u.AssumeRoleId, false)
		w.B = append(v.B, '}')
	}
	w.Key("credentials")
	if c := o.Credentials; c == nil {
		w.B = append(w.B, "null"...)
	} else {
		v := JSONObject{B: append(w.B, '{')}
		v.Str("sessionToken", c.SessionToken, false)
		v.Str("secretAccessKey", c.SecretAccessKey, false)
		v.Str("accessKeyId", c.AccessKeyId, false)
		v.Key("expiration")
		v.B = appendEpochMillis(v.B, c.Expiration.UnixMilli())
		w.B = append(v.B, '}')
	}
	return append(w.B, '}'), nil
}

// JSONObject appends a JSON object's members to B, json.Marshal's bytes
// without its reflection (the responses here, the audit record): open it
// with B ending in '{', close it by appending '}'. Keys are plain ASCII.
type JSONObject struct {
	B    []byte
	some bool
}

// Key appends a member's key (and the comma before it, but for the first).
func (o *JSONObject) Key(k string) {
	if o.some {
		o.B = append(o.B, ',')
	}
	o.some = true
	o.B = append(o.B, '"')
	o.B = append(o.B, k...)
	o.B = append(o.B, '"', ':')
}

// Str appends a string member, or nothing for "" when omitEmpty.
func (o *JSONObject) Str(k, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	o.Key(k)
	o.B = AppendJSONString(o.B, v)
}

// time appends a *Time member with omitempty (nil is left out).
func (o *JSONObject) time(k string, t *Time) {
	if t == nil {
		return
	}
	o.Key(k)
	o.B = appendEpochMillis(o.B, t.UnixMilli())
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

// AppendJSONStringMap appends m as json.Marshal does: null when nil, keys
// sorted.
func AppendJSONStringMap(b []byte, m map[string]string) []byte {
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

// AppendTimeJSON appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds), for a t that TimeJSONOK accepts.
func AppendTimeJSON(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// TimeJSONOK reports whether AppendTimeJSON encodes t as MarshalJSON does:
// a year from 0 to 9999 (MarshalJSON refuses others), in UTC or a
// whole-minute zone of less than a day.
func TimeJSONOK(t time.Time) bool {
	_, off := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && off%60 == 0 && off > -24*3600 && off < 24*3600
}
