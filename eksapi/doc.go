// Package eksapi holds the wire shapes of the EKS API subset podid speaks
// (pod identity associations, minimal clusters, tags) and of EKS Auth, with
// their codecs. The server encodes every response and error through this
// package, so a client that imports it reads exactly what podid writes.
//
// # Values
//
// The association shapes are plain structs: [PodIdentityAssociation], its
// List item [PodIdentityAssociationSummary], the single-association output
// [AssociationOutput] (aliased as [UpdatePodIdentityAssociationOutput] and
// the Create, Describe and Delete outputs) and
// [ListPodIdentityAssociationsOutput]. [NewUpdatePodIdentityAssociationOutput],
// [NewAssociationOutput] and [NewListPodIdentityAssociationsOutput] build
// outputs; timestamps are [Time] (use new(NewTime(t)) for a member).
//
// # Codecs
//
//   - JSON, the restJson1 wire form the AWS SDKs read: encoding/json with
//     the types as they are, and ParseAssociationOutput,
//     ParseUpdatePodIdentityAssociationOutput,
//     ParseListPodIdentityAssociationsOutput, ParsePodIdentityAssociation and
//     ParseClusterOutput to decode (for a string s, pass []byte(s)).
//     Timestamps are epoch seconds with millisecond precision. Like the SDK,
//     decoding skips unknown members and reads null as absent. A [Cluster]
//     merges the members of its Extra into its JSON object.
//   - XML in the style of the AWS query protocols: [MarshalResponseXML]
//     writes <{Op}Response><{Op}Result>…</{Op}Result></{Op}Response>,
//     [UnmarshalResponseXML] and [ParseUpdatePodIdentityAssociationOutputXML]
//     read it. Elements are named like query keys (ClusterName), maps are
//     <Tags><entry><key/><value/></entry></Tags>, lists
//     <Associations><member/></Associations>, timestamps ISO 8601.
//   - The AWS query form, ToQuery: Association.ClusterName=c1,
//     Association.Tags.entry.1.key=k, Associations.member.1.AssociationId=…,
//     booleans true/false, timestamps ISO 8601.
//   - The generic value form, ToValue: the JSON-like tree (map[string]any,
//     []any, string, bool, float64 epoch seconds) that encoding/json decodes
//     from the wire form.
//
// # Errors
//
// [*Error] is an AWS error shape: code, HTTP status, message and the
// members EKS error shapes carry. The server writes it with [Error.WriteJSON]
// (status, X-Amzn-ErrorType and a body with __type and message). For
// UpdatePodIdentityAssociation the modeled codes are
// [CodeInvalidParameter], [CodeInvalidRequest], [CodeResourceNotFound] and
// [CodeServer].
//
// [ErrorFromJSON] decodes a restJson1 error response by the Go SDK's own rules
// (header first, then __type, then code; "a#Code:suffix" → "Code"): a modeled
// code of EKS or EKS Auth (see [Modeled]) becomes an *Error, any other code
// an [*UnknownError] carrying the code and optional message, and an
// undecodable body a *smithy.DeserializationError, exactly where the SDK
// returns its typed error, a *smithy.GenericAPIError or a
// DeserializationError. [ErrorFromXML] reads the XML error forms
// (<ErrorResponse><Error><Code/><Message/></Error></ErrorResponse> or a bare
// <Error>); [ErrorToJSON] and [ErrorToXML] encode. Both error types
// implement smithy.APIError. Decoders never panic, whatever the input.
package eksapi
