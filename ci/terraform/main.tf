# The Terraform e2e's module (ci/terraform/run.sh applies it against
# `podid serve`): a pod's role with the trust policy EKS Pod Identity needs,
# its inline and managed policies, a node user with an access key and an
# inline policy, a cluster and the pod identity association, an IAM OpenID
# Connect provider and a role trusting it.

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "endpoint" {
  type = string
}

variable "access_key" {
  type      = string
  sensitive = true
}

variable "secret_key" {
  type      = string
  sensitive = true
}

# generation changes descriptions, tags, documents and trust conditions: the
# e2e applies 1, then 2 (updates in place), planning after each.
variable "generation" {
  type    = number
  default = 1
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = var.access_key
  secret_key                  = var.secret_key
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    eks = var.endpoint
    iam = var.endpoint
    sts = var.endpoint
  }
}

data "aws_iam_policy_document" "pods_trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
    dynamic "condition" {
      for_each = var.generation > 1 ? [1] : []
      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = ["000000000000"]
      }
    }
  }
}

resource "aws_iam_role" "app" {
  name                 = "tf-app"
  path                 = "/pods/"
  description          = "the app's pod role, generation ${var.generation}"
  assume_role_policy   = data.aws_iam_policy_document.pods_trust.json
  max_session_duration = 3600 * (var.generation + 1)
  tags = {
    team       = "payments"
    generation = tostring(var.generation)
  }
}

resource "aws_iam_role_policy" "app_read" {
  name = "read-bucket"
  role = aws_iam_role.app.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = var.generation > 1 ? ["s3:GetObject", "s3:ListBucket"] : ["s3:GetObject"]
      Resource = "arn:aws:s3:::app-bucket/$${aws:PrincipalTag/kubernetes-namespace}/*"
    }]
  })
}

resource "aws_iam_policy" "app_queue" {
  name        = "tf-app-queue"
  path        = "/pods/"
  description = "send to the app's queue"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = var.generation > 1 ? ["sqs:SendMessage", "sqs:GetQueueUrl"] : ["sqs:SendMessage"]
      Resource = "arn:aws:sqs:us-east-1:000000000000:app"
    }]
  })
  tags = {
    team       = "payments"
    generation = tostring(var.generation)
  }
}

resource "aws_iam_role_policy_attachment" "app_queue" {
  role       = aws_iam_role.app.name
  policy_arn = aws_iam_policy.app_queue.arn
}

resource "aws_iam_role" "cluster" {
  name = "tf-cluster"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "eks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_eks_cluster" "dev" {
  name     = "tf-dev"
  role_arn = aws_iam_role.cluster.arn
  vpc_config {
    subnet_ids = ["subnet-1", "subnet-2"]
  }
}

resource "aws_eks_pod_identity_association" "app" {
  cluster_name    = aws_eks_cluster.dev.name
  namespace       = "default"
  service_account = "app"
  role_arn        = aws_iam_role.app.arn
  tags = {
    team = "payments"
  }
}

# The node agent's identity: it may only exchange pods' tokens for this
# cluster.
resource "aws_iam_user" "node" {
  name = "tf-node"
  path = "/nodes/"
  tags = {
    cluster    = "tf-dev"
    generation = tostring(var.generation)
  }
}

resource "aws_iam_user_policy" "node" {
  name = "pod-identity-agent"
  user = aws_iam_user.node.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "eks-auth:AssumeRoleForPodIdentity"
      Resource = aws_eks_cluster.dev.arn
    }]
  })
}

resource "aws_iam_access_key" "node" {
  user = aws_iam_user.node.name
}

# The IAM OpenID Connect provider of a cluster's issuer and a role for
# service accounts trusting it, as the EKS modules make them (IRSA).
# Terraform takes only https URLs, as IAM does: podid's own issuers are
# https behind --public-url https://...; this one is EKS-shaped.
locals {
  oidc_issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/TFDEV0000000000000000000000000000"
  oidc_host   = replace(local.oidc_issuer, "https://", "")
}

resource "aws_iam_openid_connect_provider" "dev" {
  url             = local.oidc_issuer
  client_id_list  = var.generation > 1 ? ["sts.amazonaws.com", "tf-app"] : ["sts.amazonaws.com"]
  thumbprint_list = var.generation > 1 ? ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"] : ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
  tags = {
    cluster    = "tf-dev"
    generation = tostring(var.generation)
  }
}

resource "aws_iam_role" "irsa" {
  name = "tf-irsa"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.dev.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_host}:sub" = "system:serviceaccount:default:app"
          "${local.oidc_host}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

output "oidc_provider_arn" {
  value = aws_iam_openid_connect_provider.dev.arn
}

output "app_role_arn" {
  value = aws_iam_role.app.arn
}

output "node_user_arn" {
  value = aws_iam_user.node.arn
}

output "node_access_key_id" {
  value = aws_iam_access_key.node.id
}

output "node_secret_access_key" {
  value     = aws_iam_access_key.node.secret
  sensitive = true
}
