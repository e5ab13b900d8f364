package sts

import "time"

// SessionView is what session inspection (podid's admin API) returns: everything the session
// carries except its secret.
type SessionView struct {
	AccessKeyID       string            `json:"accessKeyId"`
	AssumedRoleARN    string            `json:"assumedRoleArn"`
	AssumedRoleID     string            `json:"assumedRoleId"`
	RoleARN           string            `json:"roleArn"`
	RoleSessionName   string            `json:"roleSessionName"`
	Account           string            `json:"account"`
	Tags              []TagView         `json:"tags"`
	TransitiveTagKeys []string          `json:"transitiveTagKeys"`
	Policy            string            `json:"policy,omitempty"`
	PolicyARNs        []string          `json:"policyArns,omitempty"`
	ExternalID        string            `json:"externalId,omitempty"`
	Chain             []string          `json:"chain"`
	SourcePrincipal   string            `json:"sourcePrincipal"`
	SourceContext     map[string]string `json:"sourceContext,omitempty"`
	Issued            time.Time         `json:"issued"`
	Expiration        time.Time         `json:"expiration"`
	Expired           bool              `json:"expired"`
}

// TagView is a session tag in SessionView.
type TagView struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// View returns the session as inspection shows it, as of now.
func (s *Session) View(now time.Time) SessionView {
	v := SessionView{
		AccessKeyID:       s.AccessKeyID,
		AssumedRoleARN:    s.AssumedRoleARN(),
		AssumedRoleID:     s.AssumedRoleID(),
		RoleARN:           s.RoleARN,
		RoleSessionName:   s.RoleSessionName,
		Account:           s.Account,
		Tags:              []TagView{},
		TransitiveTagKeys: append([]string{}, s.TransitiveTagKeys...),
		Policy:            s.Policy,
		PolicyARNs:        s.PolicyARNs,
		ExternalID:        s.ExternalID,
		Chain:             append([]string{}, s.Chain...),
		SourcePrincipal:   s.SourcePrincipal,
		SourceContext:     s.SourceContext,
		Issued:            s.Issued,
		Expiration:        s.Expiration,
		Expired:           s.Expired(now),
	}
	for _, t := range s.Tags {
		v.Tags = append(v.Tags, TagView{Key: t.Key, Value: t.Value})
	}
	return v
}
