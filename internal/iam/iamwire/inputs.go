package iamwire

// The inputs of the operations podid serves. Field tags read
// `q:"Name[,req][,c=CONSTRAINT]"`: the form parameter, whether it is
// required, and the constraint of the IAM service model it must satisfy
// (see constraints). Optional numbers and booleans are pointers (nil: not
// sent); []Tag reads Tags.member.N.Key/Value; []string reads
// NAME.member.N.

// Tag is an IAM tag.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// Paging is the Marker/MaxItems pair of list operations.
type Paging struct {
	Marker   string `q:"Marker,c=marker"`
	MaxItems *int32 `q:"MaxItems,c=maxItems"`
}

// Max returns MaxItems or IAM's default of 100.
func (p Paging) Max() int {
	if p.MaxItems == nil {
		return 100
	}
	return int(*p.MaxItems)
}

// Roles.

type CreateRoleInput struct {
	Path                     string `q:"Path,c=path"`
	RoleName                 string `q:"RoleName,req,c=roleName"`
	AssumeRolePolicyDocument string `q:"AssumeRolePolicyDocument,req,c=policyDocument"`
	Description              string `q:"Description,c=description"`
	MaxSessionDuration       *int32 `q:"MaxSessionDuration,c=maxSessionDuration"`
	PermissionsBoundary      string `q:"PermissionsBoundary,c=arn"`
	Tags                     []Tag  `q:"Tags"`
}

type GetRoleInput struct {
	RoleName string `q:"RoleName,req,c=roleName"`
}

type ListRolesInput struct {
	PathPrefix string `q:"PathPrefix,c=pathPrefix"`
	Paging
}

type UpdateRoleInput struct {
	RoleName           string  `q:"RoleName,req,c=roleName"`
	Description        *string `q:"Description,c=description"`
	MaxSessionDuration *int32  `q:"MaxSessionDuration,c=maxSessionDuration"`
}

type UpdateRoleDescriptionInput struct {
	RoleName    string `q:"RoleName,req,c=roleName"`
	Description string `q:"Description,req,c=description"`
}

type UpdateAssumeRolePolicyInput struct {
	RoleName       string `q:"RoleName,req,c=roleName"`
	PolicyDocument string `q:"PolicyDocument,req,c=policyDocument"`
}

type DeleteRoleInput struct {
	RoleName string `q:"RoleName,req,c=roleName"`
}

type TagRoleInput struct {
	RoleName string `q:"RoleName,req,c=roleName"`
	Tags     []Tag  `q:"Tags,req"`
}

type UntagRoleInput struct {
	RoleName string   `q:"RoleName,req,c=roleName"`
	TagKeys  []string `q:"TagKeys,req,c=tagKey"`
}

type ListRoleTagsInput struct {
	RoleName string `q:"RoleName,req,c=roleName"`
	Paging
}

type ListInstanceProfilesForRoleInput struct {
	RoleName string `q:"RoleName,req,c=roleName"`
	Paging
}

// Role inline policies.

type PutRolePolicyInput struct {
	RoleName       string `q:"RoleName,req,c=roleName"`
	PolicyName     string `q:"PolicyName,req,c=policyName"`
	PolicyDocument string `q:"PolicyDocument,req,c=policyDocument"`
}

type GetRolePolicyInput struct {
	RoleName   string `q:"RoleName,req,c=roleName"`
	PolicyName string `q:"PolicyName,req,c=policyName"`
}

type DeleteRolePolicyInput struct {
	RoleName   string `q:"RoleName,req,c=roleName"`
	PolicyName string `q:"PolicyName,req,c=policyName"`
}

type ListRolePoliciesInput struct {
	RoleName string `q:"RoleName,req,c=roleName"`
	Paging
}

// Managed policies.

type CreatePolicyInput struct {
	PolicyName     string `q:"PolicyName,req,c=policyName"`
	Path           string `q:"Path,c=policyPath"`
	PolicyDocument string `q:"PolicyDocument,req,c=policyDocument"`
	Description    string `q:"Description,c=description"`
	Tags           []Tag  `q:"Tags"`
}

type GetPolicyInput struct {
	PolicyArn string `q:"PolicyArn,req,c=arn"`
}

type DeletePolicyInput struct {
	PolicyArn string `q:"PolicyArn,req,c=arn"`
}

type ListPoliciesInput struct {
	Scope             string `q:"Scope,c=policyScope"`
	OnlyAttached      *bool  `q:"OnlyAttached"`
	PathPrefix        string `q:"PathPrefix,c=policyPathPrefix"`
	PolicyUsageFilter string `q:"PolicyUsageFilter,c=policyUsage"`
	Paging
}

type GetPolicyVersionInput struct {
	PolicyArn string `q:"PolicyArn,req,c=arn"`
	VersionId string `q:"VersionId,req,c=versionId"`
}

type ListPolicyVersionsInput struct {
	PolicyArn string `q:"PolicyArn,req,c=arn"`
	Paging
}

type CreatePolicyVersionInput struct {
	PolicyArn      string `q:"PolicyArn,req,c=arn"`
	PolicyDocument string `q:"PolicyDocument,req,c=policyDocument"`
	SetAsDefault   *bool  `q:"SetAsDefault"`
}

type DeletePolicyVersionInput struct {
	PolicyArn string `q:"PolicyArn,req,c=arn"`
	VersionId string `q:"VersionId,req,c=versionId"`
}

type SetDefaultPolicyVersionInput struct {
	PolicyArn string `q:"PolicyArn,req,c=arn"`
	VersionId string `q:"VersionId,req,c=versionId"`
}

type TagPolicyInput struct {
	PolicyArn string `q:"PolicyArn,req,c=arn"`
	Tags      []Tag  `q:"Tags,req"`
}

type UntagPolicyInput struct {
	PolicyArn string   `q:"PolicyArn,req,c=arn"`
	TagKeys   []string `q:"TagKeys,req,c=tagKey"`
}

type ListPolicyTagsInput struct {
	PolicyArn string `q:"PolicyArn,req,c=arn"`
	Paging
}

type ListEntitiesForPolicyInput struct {
	PolicyArn         string `q:"PolicyArn,req,c=arn"`
	EntityFilter      string `q:"EntityFilter,c=entityFilter"`
	PathPrefix        string `q:"PathPrefix,c=pathPrefix"`
	PolicyUsageFilter string `q:"PolicyUsageFilter,c=policyUsage"`
	Paging
}

// Attachments.

type AttachRolePolicyInput struct {
	RoleName  string `q:"RoleName,req,c=roleName"`
	PolicyArn string `q:"PolicyArn,req,c=arn"`
}

type DetachRolePolicyInput struct {
	RoleName  string `q:"RoleName,req,c=roleName"`
	PolicyArn string `q:"PolicyArn,req,c=arn"`
}

type ListAttachedRolePoliciesInput struct {
	RoleName   string `q:"RoleName,req,c=roleName"`
	PathPrefix string `q:"PathPrefix,c=policyPathPrefix"`
	Paging
}

type AttachUserPolicyInput struct {
	UserName  string `q:"UserName,req,c=userName"`
	PolicyArn string `q:"PolicyArn,req,c=arn"`
}

type DetachUserPolicyInput struct {
	UserName  string `q:"UserName,req,c=userName"`
	PolicyArn string `q:"PolicyArn,req,c=arn"`
}

type ListAttachedUserPoliciesInput struct {
	UserName   string `q:"UserName,req,c=userName"`
	PathPrefix string `q:"PathPrefix,c=policyPathPrefix"`
	Paging
}

// Users.

type CreateUserInput struct {
	Path                string `q:"Path,c=path"`
	UserName            string `q:"UserName,req,c=userName"`
	PermissionsBoundary string `q:"PermissionsBoundary,c=arn"`
	Tags                []Tag  `q:"Tags"`
}

// GetUserInput: without UserName, the caller's own user.
type GetUserInput struct {
	UserName string `q:"UserName,c=existingUserName"`
}

type UpdateUserInput struct {
	UserName    string `q:"UserName,req,c=existingUserName"`
	NewPath     string `q:"NewPath,c=path"`
	NewUserName string `q:"NewUserName,c=userName"`
}

type DeleteUserInput struct {
	UserName string `q:"UserName,req,c=existingUserName"`
}

type ListUsersInput struct {
	PathPrefix string `q:"PathPrefix,c=pathPrefix"`
	Paging
}

type TagUserInput struct {
	UserName string `q:"UserName,req,c=existingUserName"`
	Tags     []Tag  `q:"Tags,req"`
}

type UntagUserInput struct {
	UserName string   `q:"UserName,req,c=existingUserName"`
	TagKeys  []string `q:"TagKeys,req,c=tagKey"`
}

type ListUserTagsInput struct {
	UserName string `q:"UserName,req,c=existingUserName"`
	Paging
}

type PutUserPolicyInput struct {
	UserName       string `q:"UserName,req,c=existingUserName"`
	PolicyName     string `q:"PolicyName,req,c=policyName"`
	PolicyDocument string `q:"PolicyDocument,req,c=policyDocument"`
}

type GetUserPolicyInput struct {
	UserName   string `q:"UserName,req,c=existingUserName"`
	PolicyName string `q:"PolicyName,req,c=policyName"`
}

type DeleteUserPolicyInput struct {
	UserName   string `q:"UserName,req,c=existingUserName"`
	PolicyName string `q:"PolicyName,req,c=policyName"`
}

type ListUserPoliciesInput struct {
	UserName string `q:"UserName,req,c=existingUserName"`
	Paging
}

// Access keys: without UserName, the caller's own user.

type CreateAccessKeyInput struct {
	UserName string `q:"UserName,c=existingUserName"`
}

type ListAccessKeysInput struct {
	UserName string `q:"UserName,c=existingUserName"`
	Paging
}

type DeleteAccessKeyInput struct {
	UserName    string `q:"UserName,c=existingUserName"`
	AccessKeyId string `q:"AccessKeyId,req,c=accessKeyId"`
}

type UpdateAccessKeyInput struct {
	UserName    string `q:"UserName,c=existingUserName"`
	AccessKeyId string `q:"AccessKeyId,req,c=accessKeyId"`
	Status      string `q:"Status,req,c=status"`
}

type GetAccessKeyLastUsedInput struct {
	AccessKeyId string `q:"AccessKeyId,req,c=accessKeyId"`
}

// What Terraform's aws_iam_user reads and destroys also list (podid has
// none of these entities: the answers are empty lists).

type ListGroupsForUserInput struct {
	UserName string `q:"UserName,req,c=existingUserName"`
	Paging
}

type ListSigningCertificatesInput struct {
	UserName string `q:"UserName,c=existingUserName"`
	Paging
}

type ListSSHPublicKeysInput struct {
	UserName string `q:"UserName,c=existingUserName"`
	Paging
}

type ListServiceSpecificCredentialsInput struct {
	UserName    string `q:"UserName,c=existingUserName"`
	ServiceName string `q:"ServiceName"`
}

type ListMFADevicesInput struct {
	UserName string `q:"UserName,c=existingUserName"`
	Paging
}

type GetLoginProfileInput struct {
	UserName string `q:"UserName,c=existingUserName"`
}

// DeleteLoginProfileInput: Terraform's aws_iam_user force_destroy calls it
// and takes NoSuchEntity as done.
type DeleteLoginProfileInput struct {
	UserName string `q:"UserName,c=existingUserName"`
}

// ListVirtualMFADevicesInput: account-wide (Terraform's force_destroy
// lists them to find the user's).
type ListVirtualMFADevicesInput struct {
	AssignmentStatus string `q:"AssignmentStatus,c=assignmentStatus"`
	Paging
}

// Permissions boundaries (stored and returned; not applied by the engine).

type PutRolePermissionsBoundaryInput struct {
	RoleName            string `q:"RoleName,req,c=roleName"`
	PermissionsBoundary string `q:"PermissionsBoundary,req,c=arn"`
}

type DeleteRolePermissionsBoundaryInput struct {
	RoleName string `q:"RoleName,req,c=roleName"`
}

type PutUserPermissionsBoundaryInput struct {
	UserName            string `q:"UserName,req,c=userName"`
	PermissionsBoundary string `q:"PermissionsBoundary,req,c=arn"`
}

type DeleteUserPermissionsBoundaryInput struct {
	UserName string `q:"UserName,req,c=userName"`
}

// OpenID Connect providers. Members are declared in the order IAM reports
// their validation errors (alphabetical); IAM quotes neither the URL nor
// the lists in those messages (hide) and words a list's violation once,
// for the list (whole).

type CreateOpenIDConnectProviderInput struct {
	ClientIDList   []string `q:"ClientIDList,c=clientID,hide,whole"`
	Tags           []Tag    `q:"Tags"`
	ThumbprintList []string `q:"ThumbprintList,c=thumbprint,hide,whole"`
	Url            string   `q:"Url,req,c=oidcURL,hide"`
}

type GetOpenIDConnectProviderInput struct {
	OpenIDConnectProviderArn string `q:"OpenIDConnectProviderArn,req,c=arn"`
}

type ListOpenIDConnectProvidersInput struct{}

type DeleteOpenIDConnectProviderInput struct {
	OpenIDConnectProviderArn string `q:"OpenIDConnectProviderArn,req,c=arn"`
}

type UpdateOpenIDConnectProviderThumbprintInput struct {
	OpenIDConnectProviderArn string   `q:"OpenIDConnectProviderArn,req,c=arn"`
	ThumbprintList           []string `q:"ThumbprintList,req,c=thumbprint,hide,whole"`
}

type AddClientIDToOpenIDConnectProviderInput struct {
	ClientID                 string `q:"ClientID,req,c=clientID"`
	OpenIDConnectProviderArn string `q:"OpenIDConnectProviderArn,req,c=arn"`
}

type RemoveClientIDFromOpenIDConnectProviderInput struct {
	ClientID                 string `q:"ClientID,req,c=clientID"`
	OpenIDConnectProviderArn string `q:"OpenIDConnectProviderArn,req,c=arn"`
}

type TagOpenIDConnectProviderInput struct {
	OpenIDConnectProviderArn string `q:"OpenIDConnectProviderArn,req,c=arn"`
	Tags                     []Tag  `q:"Tags,req"`
}

type UntagOpenIDConnectProviderInput struct {
	OpenIDConnectProviderArn string   `q:"OpenIDConnectProviderArn,req,c=arn"`
	TagKeys                  []string `q:"TagKeys,req,c=tagKey"`
}

type ListOpenIDConnectProviderTagsInput struct {
	OpenIDConnectProviderArn string `q:"OpenIDConnectProviderArn,req,c=arn"`
	Paging
}

// inputs maps each Action to a constructor of its input.
var inputs = map[string]func() any{
	"CreateRole":                     func() any { return new(CreateRoleInput) },
	"GetRole":                        func() any { return new(GetRoleInput) },
	"ListRoles":                      func() any { return new(ListRolesInput) },
	"UpdateRole":                     func() any { return new(UpdateRoleInput) },
	"UpdateRoleDescription":          func() any { return new(UpdateRoleDescriptionInput) },
	"UpdateAssumeRolePolicy":         func() any { return new(UpdateAssumeRolePolicyInput) },
	"DeleteRole":                     func() any { return new(DeleteRoleInput) },
	"TagRole":                        func() any { return new(TagRoleInput) },
	"UntagRole":                      func() any { return new(UntagRoleInput) },
	"ListRoleTags":                   func() any { return new(ListRoleTagsInput) },
	"ListInstanceProfilesForRole":    func() any { return new(ListInstanceProfilesForRoleInput) },
	"PutRolePolicy":                  func() any { return new(PutRolePolicyInput) },
	"GetRolePolicy":                  func() any { return new(GetRolePolicyInput) },
	"DeleteRolePolicy":               func() any { return new(DeleteRolePolicyInput) },
	"ListRolePolicies":               func() any { return new(ListRolePoliciesInput) },
	"CreatePolicy":                   func() any { return new(CreatePolicyInput) },
	"GetPolicy":                      func() any { return new(GetPolicyInput) },
	"DeletePolicy":                   func() any { return new(DeletePolicyInput) },
	"ListPolicies":                   func() any { return new(ListPoliciesInput) },
	"GetPolicyVersion":               func() any { return new(GetPolicyVersionInput) },
	"ListPolicyVersions":             func() any { return new(ListPolicyVersionsInput) },
	"CreatePolicyVersion":            func() any { return new(CreatePolicyVersionInput) },
	"DeletePolicyVersion":            func() any { return new(DeletePolicyVersionInput) },
	"SetDefaultPolicyVersion":        func() any { return new(SetDefaultPolicyVersionInput) },
	"TagPolicy":                      func() any { return new(TagPolicyInput) },
	"UntagPolicy":                    func() any { return new(UntagPolicyInput) },
	"ListPolicyTags":                 func() any { return new(ListPolicyTagsInput) },
	"ListEntitiesForPolicy":          func() any { return new(ListEntitiesForPolicyInput) },
	"AttachRolePolicy":               func() any { return new(AttachRolePolicyInput) },
	"DetachRolePolicy":               func() any { return new(DetachRolePolicyInput) },
	"ListAttachedRolePolicies":       func() any { return new(ListAttachedRolePoliciesInput) },
	"AttachUserPolicy":               func() any { return new(AttachUserPolicyInput) },
	"DetachUserPolicy":               func() any { return new(DetachUserPolicyInput) },
	"ListAttachedUserPolicies":       func() any { return new(ListAttachedUserPoliciesInput) },
	"CreateUser":                     func() any { return new(CreateUserInput) },
	"GetUser":                        func() any { return new(GetUserInput) },
	"UpdateUser":                     func() any { return new(UpdateUserInput) },
	"DeleteUser":                     func() any { return new(DeleteUserInput) },
	"ListUsers":                      func() any { return new(ListUsersInput) },
	"TagUser":                        func() any { return new(TagUserInput) },
	"UntagUser":                      func() any { return new(UntagUserInput) },
	"ListUserTags":                   func() any { return new(ListUserTagsInput) },
	"PutUserPolicy":                  func() any { return new(PutUserPolicyInput) },
	"GetUserPolicy":                  func() any { return new(GetUserPolicyInput) },
	"DeleteUserPolicy":               func() any { return new(DeleteUserPolicyInput) },
	"ListUserPolicies":               func() any { return new(ListUserPoliciesInput) },
	"CreateAccessKey":                func() any { return new(CreateAccessKeyInput) },
	"ListAccessKeys":                 func() any { return new(ListAccessKeysInput) },
	"DeleteAccessKey":                func() any { return new(DeleteAccessKeyInput) },
	"UpdateAccessKey":                func() any { return new(UpdateAccessKeyInput) },
	"GetAccessKeyLastUsed":           func() any { return new(GetAccessKeyLastUsedInput) },
	"ListGroupsForUser":              func() any { return new(ListGroupsForUserInput) },
	"ListSigningCertificates":        func() any { return new(ListSigningCertificatesInput) },
	"ListSSHPublicKeys":              func() any { return new(ListSSHPublicKeysInput) },
	"ListServiceSpecificCredentials": func() any { return new(ListServiceSpecificCredentialsInput) },
	"ListMFADevices":                 func() any { return new(ListMFADevicesInput) },
	"GetLoginProfile":                func() any { return new(GetLoginProfileInput) },
	"DeleteLoginProfile":             func() any { return new(DeleteLoginProfileInput) },
	"ListVirtualMFADevices":          func() any { return new(ListVirtualMFADevicesInput) },
	"PutRolePermissionsBoundary":     func() any { return new(PutRolePermissionsBoundaryInput) },
	"DeleteRolePermissionsBoundary":  func() any { return new(DeleteRolePermissionsBoundaryInput) },
	"PutUserPermissionsBoundary":     func() any { return new(PutUserPermissionsBoundaryInput) },
	"DeleteUserPermissionsBoundary":  func() any { return new(DeleteUserPermissionsBoundaryInput) },

	"CreateOpenIDConnectProvider":             func() any { return new(CreateOpenIDConnectProviderInput) },
	"GetOpenIDConnectProvider":                func() any { return new(GetOpenIDConnectProviderInput) },
	"ListOpenIDConnectProviders":              func() any { return new(ListOpenIDConnectProvidersInput) },
	"DeleteOpenIDConnectProvider":             func() any { return new(DeleteOpenIDConnectProviderInput) },
	"UpdateOpenIDConnectProviderThumbprint":   func() any { return new(UpdateOpenIDConnectProviderThumbprintInput) },
	"AddClientIDToOpenIDConnectProvider":      func() any { return new(AddClientIDToOpenIDConnectProviderInput) },
	"RemoveClientIDFromOpenIDConnectProvider": func() any { return new(RemoveClientIDFromOpenIDConnectProviderInput) },
	"TagOpenIDConnectProvider":                func() any { return new(TagOpenIDConnectProviderInput) },
	"UntagOpenIDConnectProvider":              func() any { return new(UntagOpenIDConnectProviderInput) },
	"ListOpenIDConnectProviderTags":           func() any { return new(ListOpenIDConnectProviderTagsInput) },
}

// Actions returns the actions ParseRequest knows, sorted.
func Actions() []string {
	out := make([]string, 0, len(inputs))
	for a := range inputs {
		out = append(out, a)
	}
	sortStrings(out)
	return out
}
