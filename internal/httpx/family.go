package httpx

// Protocol is the wire protocol a family's errors are written in.
type Protocol int

const (
	// RestJSON is restJson1 (EKS, EKS Auth, podid's admin API): the status,
	// X-Amzn-ErrorType and {"__type","message",...members}. awsJson1.1
	// services write errors the same way.
	RestJSON Protocol = iota
	// AWSQuery is the awsQuery XML error form (STS; IAM):
	// <ErrorResponse xmlns=NS><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
	AWSQuery
)

// Family is a group of handlers that speak one protocol for one service:
// what the host needs to write their errors and bound their bodies.
type Family struct {
	// Name identifies the family (the error mapping's wording depends on
	// it where AWS's services differ).
	Name string
	// Protocol is the error protocol.
	Protocol Protocol
	// Namespace is the xmlns of an AWSQuery family's ErrorResponse.
	Namespace string
	// MaxBody, when positive and below the host's limit, bounds the
	// family's request bodies.
	MaxBody int64
	// Public families are served without authentication.
	Public bool
}

// Family names.
const (
	NameEKS     = "eks"
	NameEKSAuth = "eks-auth"
	NameSTS     = "sts"
	NameIAM     = "iam"
	NameAdmin   = "podid"
	NameOIDC    = "oidc"
	NamePublic  = "public"
)

// XML namespaces of the awsQuery services.
const (
	NamespaceSTS = "https://sts.amazonaws.com/doc/2011-06-15/"
	NamespaceIAM = "https://iam.amazonaws.com/doc/2010-05-08/"
)

// podid's handler families.
var (
	// EKS is the EKS API (restJson1).
	EKS = &Family{Name: NameEKS, Protocol: RestJSON}
	// EKSAuth is AssumeRoleForPodIdentity (restJson1, 64 KiB bodies).
	EKSAuth = &Family{Name: NameEKSAuth, Protocol: RestJSON, MaxBody: 64 << 10}
	// STS is the awsQuery STS endpoint (64 KiB bodies).
	STS = &Family{Name: NameSTS, Protocol: AWSQuery, Namespace: NamespaceSTS, MaxBody: 64 << 10}
	// IAM is the awsQuery IAM API (64 KiB bodies), sharing STS's
	// endpoint (Host.HandleShared).
	IAM = &Family{Name: NameIAM, Protocol: AWSQuery, Namespace: NamespaceIAM, MaxBody: 64 << 10}
	// Admin is podid's own API under /podid/v1/ (restJson1 errors).
	Admin = &Family{Name: NameAdmin, Protocol: RestJSON, MaxBody: 64 << 10}
	// OIDC is the OIDC discovery of podid-issued clusters (public).
	OIDC = &Family{Name: NameOIDC, Protocol: RestJSON, Public: true}
	// Public is any other unauthenticated route (metrics).
	Public = &Family{Name: NamePublic, Protocol: RestJSON, Public: true}
	// Default answers requests no route matches: the EKS API's 404 and
	// 405 (behind authentication, as AWS's endpoints are).
	Default = EKS
)
