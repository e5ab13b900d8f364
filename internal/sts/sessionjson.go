package sts

import (
	"slices"

	"github.com/podid/podid/eksapi"
)

// appendJSON appends the session as json.Marshal encodes it, byte for
// byte (TestSessionJSON, FuzzSessionJSON), without reflection: sealing a
// session is on every credential request's path.
func (s *Session) appendJSON(b []byte) []byte {
	b = append(b, `{"akid":`...)
	b = eksapi.AppendJSONString(b, s.AccessKeyID)
	b = append(b, `,"role":`...)
	b = eksapi.AppendJSONString(b, s.RoleARN)
	b = append(b, `,"rid":`...)
	b = eksapi.AppendJSONString(b, s.RoleID)
	b = append(b, `,"name":`...)
	b = eksapi.AppendJSONString(b, s.RoleSessionName)
	b = append(b, `,"part":`...)
	b = eksapi.AppendJSONString(b, s.Partition)
	b = append(b, `,"acct":`...)
	b = eksapi.AppendJSONString(b, s.Account)
	if len(s.Tags) > 0 {
		b = append(b, `,"tags":[`...)
		for i, t := range s.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"Key":`...)
			b = eksapi.AppendJSONString(b, t.Key)
			b = append(b, `,"Value":`...)
			b = eksapi.AppendJSONString(b, t.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendJSONStrings(b, `,"tt":`, s.TransitiveTagKeys)
	if s.Policy != "" {
		b = append(b, `,"pol":`...)
		b = eksapi.AppendJSONString(b, s.Policy)
	}
	b = appendJSONStrings(b, `,"parns":`, s.PolicyARNs)
	if s.ExternalID != "" {
		b = append(b, `,"xid":`...)
		b = eksapi.AppendJSONString(b, s.ExternalID)
	}
	b = appendJSONStrings(b, `,"chain":`, s.Chain)
	b = append(b, `,"src":`...)
	b = eksapi.AppendJSONString(b, s.SourcePrincipal)
	if len(s.SourceContext) > 0 {
		b = append(b, `,"sctx":{`...)
		keys := make([]string, 0, len(s.SourceContext))
		for k := range s.SourceContext {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = eksapi.AppendJSONString(b, k)
			b = append(b, ':')
			b = eksapi.AppendJSONString(b, s.SourceContext[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"iat":`...)
	b = eksapi.AppendTimeJSON(b, s.Issued)
	b = append(b, `,"exp":`...)
	b = eksapi.AppendTimeJSON(b, s.Expiration)
	return append(b, '}')
}

// appendJSONStrings appends member and ss when ss is not empty
// (omitempty).
func appendJSONStrings(b []byte, member string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, member...)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = eksapi.AppendJSONString(b, s)
	}
	return append(b, ']')
}
