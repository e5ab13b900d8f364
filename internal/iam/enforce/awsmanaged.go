package enforce

// awsManaged are the AWS managed policies podid knows the documents of, by
// the ARN's path and name (arn:PARTITION:iam::aws:policy/NAME),
// for permissions boundaries (IAM accepts an AWS managed policy as a
// boundary; podid keeps none in its store). Documents as the AWS Managed
// Policy Reference gives them [DOC]: AdministratorAccess, PowerUserAccess
// (v12). A boundary naming another AWS managed policy allows nothing
// [INF]: podid cannot know what it allows, and a boundary only ever takes
// permissions away.
var awsManaged = map[string]string{
	"AdministratorAccess": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	"PowerUserAccess": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},
		{"Effect":"Allow","Action":["account:GetAccountInformation","account:GetGovCloudAccountInformation","account:GetPrimaryEmail",
			"account:ListRegions","iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles",
			"organizations:DescribeEffectivePolicy","organizations:DescribeOrganization"],"Resource":"*"}]}`,
}

// allowsNothing is the boundary whose document podid does not have.
const allowsNothing = `{"Version":"2012-10-17","Statement":[]}`
