package eksapi

// AssumeRoleForPodIdentityInput is the body of EKS Auth's
// POST /clusters/{clusterName}/assume-role-for-pod-identity (spec §6.1).
type AssumeRoleForPodIdentityInput struct {
	Token       string `json:"token"`
	EksNodeName string `json:"eksNodeName,omitempty"`
	InstanceId  string `json:"instanceId,omitempty"`
	Zone        string `json:"zone,omitempty"`
}

// AssumeRoleForPodIdentityOutput is its response; every member is required.
type AssumeRoleForPodIdentityOutput struct {
	Subject                *Subject                   `json:"subject"`
	Audience               string                     `json:"audience"`
	PodIdentityAssociation *PodIdentityAssociationRef `json:"podIdentityAssociation"`
	AssumedRoleUser        *AssumedRoleUser           `json:"assumedRoleUser"`
	Credentials            *Credentials               `json:"credentials"`
}

// Subject names the pod's namespace and service account.
type Subject struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
}

// PodIdentityAssociationRef identifies the association used.
type PodIdentityAssociationRef struct {
	AssociationArn string `json:"associationArn"`
	AssociationId  string `json:"associationId"`
}

// AssumedRoleUser mirrors STS's AssumedRoleUser.
type AssumedRoleUser struct {
	Arn          string `json:"arn"`
	AssumeRoleId string `json:"assumeRoleId"`
}

// Credentials are the vended temporary credentials; Expiration is epoch
// seconds on the wire.
type Credentials struct {
	SessionToken    string `json:"sessionToken"`
	SecretAccessKey string `json:"secretAccessKey"`
	AccessKeyId     string `json:"accessKeyId"`
	Expiration      Time   `json:"expiration"`
}
