package iamwire

import (
	"encoding/xml"
	"net/url"
	"strings"
	"time"
)

// Document is a policy document (JSON). It is written URL-encoded, as
// IAM returns documents; the SDKs and Terraform decode it.
type Document string

// MarshalXML writes the document percent-encoded (spaces as %20).
func (d Document) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(EncodeDocument(string(d)), start)
}

// EncodeDocument percent-encodes a policy document as IAM does.
func EncodeDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// Timestamp is a time written as IAM writes it (ISO 8601, UTC, seconds).
type Timestamp time.Time

// MarshalXML writes t as 2006-01-02T15:04:05Z.
func (t Timestamp) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(time.Time(t).UTC().Format("2006-01-02T15:04:05Z"), start)
}

// TS converts a time for a response field.
func TS(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	ts := Timestamp(t)
	return &ts
}

// Tags is a list of tags written as <member><Key/><Value/></member>.
type Tags struct {
	Members []Tag `xml:"member"`
}

// TagList converts tags for a response (nil for none: the element is left out).
func TagList(tags []Tag) *Tags {
	if len(tags) == 0 {
		return nil
	}
	return &Tags{Members: tags}
}

// Strings is a list of strings written as <member>s (PolicyNames).
type Strings struct {
	Members []string `xml:"member"`
}

// Role is a role as GetRole, CreateRole and ListRoles return it. IAM
// always returns MaxSessionDuration (DefaultMaxSessionSecs unless set) and
// leaves out an empty Description; Terraform reads both back, so a wrong
// one is a drift on the next plan.
type Role struct {
	Path                     string        `xml:"Path"`
	RoleName                 string        `xml:"RoleName"`
	RoleId                   string        `xml:"RoleId"`
	Arn                      string        `xml:"Arn"`
	CreateDate               *Timestamp    `xml:"CreateDate"`
	AssumeRolePolicyDocument Document      `xml:"AssumeRolePolicyDocument,omitempty"`
	Description              string        `xml:"Description,omitempty"`
	MaxSessionDuration       int32         `xml:"MaxSessionDuration,omitempty"`
	PermissionsBoundary      *Boundary     `xml:"PermissionsBoundary,omitempty"`
	Tags                     *Tags         `xml:"Tags,omitempty"`
	RoleLastUsed             *RoleLastUsed `xml:"RoleLastUsed,omitempty"`
}

// Boundary is a role's or user's permissions boundary (stored and
// returned; the policy engine does not apply boundaries).
type Boundary struct {
	PermissionsBoundaryType string `xml:"PermissionsBoundaryType"` // "PermissionsBoundaryPolicy"
	PermissionsBoundaryArn  string `xml:"PermissionsBoundaryArn"`
}

// RoleLastUsed is when and where a role was last assumed.
type RoleLastUsed struct {
	LastUsedDate *Timestamp `xml:"LastUsedDate,omitempty"`
	Region       string     `xml:"Region,omitempty"`
}

// User is an IAM user.
type User struct {
	Path                string     `xml:"Path"`
	UserName            string     `xml:"UserName"`
	UserId              string     `xml:"UserId"`
	Arn                 string     `xml:"Arn"`
	CreateDate          *Timestamp `xml:"CreateDate"`
	PasswordLastUsed    *Timestamp `xml:"PasswordLastUsed,omitempty"`
	PermissionsBoundary *Boundary  `xml:"PermissionsBoundary,omitempty"`
	Tags                *Tags      `xml:"Tags,omitempty"`
}

// Policy is a managed policy.
type Policy struct {
	PolicyName                    string     `xml:"PolicyName"`
	PolicyId                      string     `xml:"PolicyId"`
	Arn                           string     `xml:"Arn"`
	Path                          string     `xml:"Path"`
	DefaultVersionId              string     `xml:"DefaultVersionId"`
	AttachmentCount               int32      `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int32      `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool       `xml:"IsAttachable"`
	Description                   string     `xml:"Description,omitempty"`
	CreateDate                    *Timestamp `xml:"CreateDate"`
	UpdateDate                    *Timestamp `xml:"UpdateDate"`
	Tags                          *Tags      `xml:"Tags,omitempty"`
}

// PolicyVersion is one version of a managed policy (Document is left out
// of CreatePolicyVersion's and ListPolicyVersions' answers, as IAM does).
type PolicyVersion struct {
	Document         Document   `xml:"Document,omitempty"`
	VersionId        string     `xml:"VersionId"`
	IsDefaultVersion bool       `xml:"IsDefaultVersion"`
	CreateDate       *Timestamp `xml:"CreateDate"`
}

// AttachedPolicy names a managed policy attached to an entity.
type AttachedPolicy struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

// AccessKey is a new access key with its secret (CreateAccessKey only).
type AccessKey struct {
	UserName        string     `xml:"UserName"`
	AccessKeyId     string     `xml:"AccessKeyId"`
	Status          string     `xml:"Status"`
	SecretAccessKey string     `xml:"SecretAccessKey"`
	CreateDate      *Timestamp `xml:"CreateDate"`
}

// AccessKeyMetadata is an access key without its secret.
type AccessKeyMetadata struct {
	UserName    string     `xml:"UserName"`
	AccessKeyId string     `xml:"AccessKeyId"`
	Status      string     `xml:"Status"`
	CreateDate  *Timestamp `xml:"CreateDate"`
}

// PolicyRole, PolicyUser: the entities ListEntitiesForPolicy returns.
type PolicyRole struct {
	RoleName string `xml:"RoleName"`
	RoleId   string `xml:"RoleId"`
}

type PolicyUser struct {
	UserName string `xml:"UserName"`
	UserId   string `xml:"UserId"`
}

// Page is the paging part of a list answer.
type Page struct {
	IsTruncated bool   `xml:"IsTruncated"`
	Marker      string `xml:"Marker,omitempty"`
}

// Results. Their element names are the IAM model's member names; a list
// field is a pointer to a struct of <member>s, present (even empty) in
// every list answer as IAM writes it.

type CreateRoleResult struct {
	Role Role `xml:"Role"`
}

type GetRoleResult struct {
	Role Role `xml:"Role"`
}

type Roles struct {
	Members []Role `xml:"member"`
}

type ListRolesResult struct {
	Roles Roles `xml:"Roles"`
	Page
}

type UpdateRoleDescriptionResult struct {
	Role Role `xml:"Role"`
}

type ListTagsResult struct {
	Tags Tags `xml:"Tags"`
	Page
}

// ListRoleTagsResult, ListUserTagsResult, ListPolicyTagsResult.
type (
	ListRoleTagsResult   = ListTagsResult
	ListUserTagsResult   = ListTagsResult
	ListPolicyTagsResult = ListTagsResult
)

// InstanceProfiles is always empty in podid (no instance profiles).
type InstanceProfiles struct {
	Members []struct{} `xml:"member"`
}

type ListInstanceProfilesForRoleResult struct {
	InstanceProfiles InstanceProfiles `xml:"InstanceProfiles"`
	Page
}

type GetRolePolicyResult struct {
	RoleName       string   `xml:"RoleName"`
	PolicyName     string   `xml:"PolicyName"`
	PolicyDocument Document `xml:"PolicyDocument"`
}

type GetUserPolicyResult struct {
	UserName       string   `xml:"UserName"`
	PolicyName     string   `xml:"PolicyName"`
	PolicyDocument Document `xml:"PolicyDocument"`
}

// ListPolicyNamesResult is ListRolePolicies' and ListUserPolicies' answer.
type ListPolicyNamesResult struct {
	PolicyNames Strings `xml:"PolicyNames"`
	Page
}

type (
	ListRolePoliciesResult = ListPolicyNamesResult
	ListUserPoliciesResult = ListPolicyNamesResult
)

type CreatePolicyResult struct {
	Policy Policy `xml:"Policy"`
}

type GetPolicyResult struct {
	Policy Policy `xml:"Policy"`
}

type Policies struct {
	Members []Policy `xml:"member"`
}

type ListPoliciesResult struct {
	Policies Policies `xml:"Policies"`
	Page
}

type GetPolicyVersionResult struct {
	PolicyVersion PolicyVersion `xml:"PolicyVersion"`
}

type CreatePolicyVersionResult struct {
	PolicyVersion PolicyVersion `xml:"PolicyVersion"`
}

type PolicyVersions struct {
	Members []PolicyVersion `xml:"member"`
}

type ListPolicyVersionsResult struct {
	Versions PolicyVersions `xml:"Versions"`
	Page
}

type AttachedPolicies struct {
	Members []AttachedPolicy `xml:"member"`
}

// ListAttachedPoliciesResult is ListAttachedRolePolicies' and
// ListAttachedUserPolicies' answer.
type ListAttachedPoliciesResult struct {
	AttachedPolicies AttachedPolicies `xml:"AttachedPolicies"`
	Page
}

type (
	ListAttachedRolePoliciesResult = ListAttachedPoliciesResult
	ListAttachedUserPoliciesResult = ListAttachedPoliciesResult
)

type PolicyRoles struct {
	Members []PolicyRole `xml:"member"`
}

type PolicyUsers struct {
	Members []PolicyUser `xml:"member"`
}

type PolicyGroups struct {
	Members []struct{} `xml:"member"`
}

type ListEntitiesForPolicyResult struct {
	PolicyGroups PolicyGroups `xml:"PolicyGroups"`
	PolicyUsers  PolicyUsers  `xml:"PolicyUsers"`
	PolicyRoles  PolicyRoles  `xml:"PolicyRoles"`
	Page
}

type CreateUserResult struct {
	User User `xml:"User"`
}

type GetUserResult struct {
	User User `xml:"User"`
}

type Users struct {
	Members []User `xml:"member"`
}

type ListUsersResult struct {
	Users Users `xml:"Users"`
	Page
}

type CreateAccessKeyResult struct {
	AccessKey AccessKey `xml:"AccessKey"`
}

type AccessKeyMetadataList struct {
	Members []AccessKeyMetadata `xml:"member"`
}

type ListAccessKeysResult struct {
	AccessKeyMetadata AccessKeyMetadataList `xml:"AccessKeyMetadata"`
	Page
}

// AccessKeyLastUsed: podid records no use; LastUsedDate is left out and
// ServiceName/Region are "N/A", as IAM answers for an unused key.
type AccessKeyLastUsed struct {
	LastUsedDate *Timestamp `xml:"LastUsedDate,omitempty"`
	ServiceName  string     `xml:"ServiceName"`
	Region       string     `xml:"Region"`
}

type GetAccessKeyLastUsedResult struct {
	UserName          string            `xml:"UserName"`
	AccessKeyLastUsed AccessKeyLastUsed `xml:"AccessKeyLastUsed"`
}

// emptyList is a list element with no members.
type emptyList struct {
	Members []struct{} `xml:"member"`
}

// The empty answers for entities podid does not have.

type ListGroupsForUserResult struct {
	Groups emptyList `xml:"Groups"`
	Page
}

type ListSigningCertificatesResult struct {
	Certificates emptyList `xml:"Certificates"`
	Page
}

type ListSSHPublicKeysResult struct {
	SSHPublicKeys emptyList `xml:"SSHPublicKeys"`
	Page
}

type ListServiceSpecificCredentialsResult struct {
	ServiceSpecificCredentials emptyList `xml:"ServiceSpecificCredentials"`
}

type ListMFADevicesResult struct {
	MFADevices emptyList `xml:"MFADevices"`
	Page
}

type ListVirtualMFADevicesResult struct {
	VirtualMFADevices emptyList `xml:"VirtualMFADevices"`
	Page
}

// UpdateRoleResult is UpdateRole's (empty) answer: unlike the operations
// without output (DeleteRole, TagRole, ...: pass a nil result), its
// <UpdateRoleResult/> element must be present, or the SDKs fail to decode.
type UpdateRoleResult struct{}

// OpenID Connect providers.

type CreateOpenIDConnectProviderResult struct {
	OpenIDConnectProviderArn string `xml:"OpenIDConnectProviderArn"`
	Tags                     *Tags  `xml:"Tags,omitempty"`
}

// GetOpenIDConnectProviderResult: the lists and Tags are written even
// empty, as IAM writes them.
type GetOpenIDConnectProviderResult struct {
	Url            string     `xml:"Url"`
	ClientIDList   Strings    `xml:"ClientIDList"`
	ThumbprintList Strings    `xml:"ThumbprintList"`
	CreateDate     *Timestamp `xml:"CreateDate"`
	Tags           Tags       `xml:"Tags"`
}

// OpenIDConnectProviderListEntry is a provider in ListOpenIDConnectProviders.
type OpenIDConnectProviderListEntry struct {
	Arn string `xml:"Arn"`
}

type OpenIDConnectProviderList struct {
	Members []OpenIDConnectProviderListEntry `xml:"member"`
}

// ListOpenIDConnectProvidersResult: IAM does not page this list.
type ListOpenIDConnectProvidersResult struct {
	OpenIDConnectProviderList OpenIDConnectProviderList `xml:"OpenIDConnectProviderList"`
}

type ListOpenIDConnectProviderTagsResult = ListTagsResult
