// Package awsregion knows AWS's regions: the ones podid serves. A request
// signed for another region is refused as AWS refuses it (sigv4).
package awsregion

// byPartition lists each partition's regions, from aws-sdk-go-v2 v1.48.0's
// internal/endpoints/awsrulesfn/partitions.json (the endpoint rules every
// SDK resolves regions with), without its "*-global" endpoint names, which
// are not signing regions. Regenerate it from a newer SDK's file when AWS
// opens a region.
var byPartition = map[string][]string{
	"aws": {
		"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
		"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
		"ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1",
		"ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
		"eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "me-west-1",
		"mx-central-1", "sa-east-1", "sa-west-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
	},
	"aws-cn": {
		"cn-north-1", "cn-northwest-1",
	},
	"aws-eusc": {
		"eusc-de-east-1",
	},
	"aws-iso": {
		"us-iso-east-1", "us-iso-west-1",
	},
	"aws-iso-b": {
		"us-isob-east-1", "us-isob-west-1",
	},
	"aws-iso-e": {
		"eu-isoe-west-1",
	},
	"aws-iso-f": {
		"us-isof-east-1", "us-isof-south-1",
	},
	"aws-us-gov": {
		"us-gov-east-1", "us-gov-west-1",
	},
}

// regions indexes byPartition: region -> partition.
var regions = func() map[string]string {
	m := map[string]string{}
	for p, rs := range byPartition {
		for _, r := range rs {
			m[r] = p
		}
	}
	return m
}()

// InPartition reports whether region is one of partition's regions.
func InPartition(partition, region string) bool {
	p, ok := regions[region]
	return ok && p == partition
}
