# One execution role per function, least privilege.
#
# The function ARNs are computed from the function names, so this module does not depend on
# the functions module (which needs the role ARNs): no dependency cycle.

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition

  function_arn_prefix  = "arn:${local.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:"
  worker_function_arn  = "${local.function_arn_prefix}${var.worker_function_name}"
  invoker_function_arn = "${local.function_arn_prefix}${var.invoker_function_name}"

  dataset_bucket_arns = [for b in var.dataset_bucket_names : "arn:${local.partition}:s3:::${b}"]
  dataset_object_arns = [for b in var.dataset_bucket_names : "arn:${local.partition}:s3:::${b}/*"]

  vpc_access_policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
  xray_policy_arn       = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"

  roles = {
    worker           = var.worker_function_name
    query-invoker    = var.invoker_function_name
    register-dataset = var.register_function_name
  }

  policies = {
    worker           = data.aws_iam_policy_document.worker.json
    query-invoker    = data.aws_iam_policy_document.invoker.json
    register-dataset = data.aws_iam_policy_document.register.json
  }
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

################################################################################
# Policies
################################################################################

# worker: reads dataset parts.
data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "ReadDatasetParts"
    actions   = ["s3:GetObject"]
    resources = local.dataset_object_arns
  }

  statement {
    sid       = "ListDatasetBuckets"
    actions   = ["s3:ListBucket"]
    resources = local.dataset_bucket_arns
  }
}

# query-invoker: invokes the worker (one task per part, or one inspection per sampled part when
# a dataset is registered through the API) and itself (POST /queries runs the query in an
# asynchronous self-invocation); lists parts. It never reads a part: workers do.
data "aws_iam_policy_document" "invoker" {
  statement {
    sid       = "InvokeWorkerAndSelf"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.worker_function_arn, local.invoker_function_arn]
  }

  statement {
    sid       = "ListDatasetBuckets"
    actions   = ["s3:ListBucket"]
    resources = local.dataset_bucket_arns
  }
}

# register-dataset: lists parts and invokes the worker to inspect the sampled ones (the
# workers read them).
data "aws_iam_policy_document" "register" {
  statement {
    sid       = "InvokeWorker"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.worker_function_arn]
  }

  statement {
    sid       = "ListDatasetBuckets"
    actions   = ["s3:ListBucket"]
    resources = local.dataset_bucket_arns
  }
}

# Every function reads the Redis AUTH token from its secret at cold start: that secret only.
data "aws_iam_policy_document" "redis_secret" {
  statement {
    sid       = "ReadRedisAuthSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.redis_auth_secret_arn]
  }

  dynamic "statement" {
    for_each = var.redis_auth_secret_kms_key_arn == null ? [] : [var.redis_auth_secret_kms_key_arn]
    content {
      sid       = "DecryptRedisAuthSecret"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

# Only when the dataset buckets use customer managed KMS keys (SSE-KMS with the AWS managed
# aws/s3 key needs no IAM permission).
data "aws_iam_policy_document" "dataset_kms" {
  count = length(var.dataset_kms_key_arns) > 0 ? 1 : 0

  statement {
    sid       = "DecryptDatasetParts"
    actions   = ["kms:Decrypt"]
    resources = var.dataset_kms_key_arns
  }
}

################################################################################
# Roles
################################################################################

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = "${each.value}-role"
  description          = "Execution role of the Funnel Rocket ${each.key} function"
  assume_role_policy   = data.aws_iam_policy_document.assume_lambda.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  for_each = local.roles

  name   = "frocket-${each.key}"
  role   = aws_iam_role.this[each.key].id
  policy = local.policies[each.key]
}

resource "aws_iam_role_policy" "redis_secret" {
  for_each = local.roles

  name   = "frocket-redis-secret"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.redis_secret.json
}

resource "aws_iam_role_policy" "dataset_kms" {
  for_each = length(var.dataset_kms_key_arns) > 0 ? local.roles : {}

  name   = "frocket-dataset-kms"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.dataset_kms[0].json
}

# ENI management in the VPC and writing to CloudWatch Logs.
resource "aws_iam_role_policy_attachment" "vpc_access" {
  for_each = local.roles

  role       = aws_iam_role.this[each.key].name
  policy_arn = local.vpc_access_policy_arn
}

resource "aws_iam_role_policy_attachment" "xray" {
  for_each = var.attach_xray_policy ? local.roles : {}

  role       = aws_iam_role.this[each.key].name
  policy_arn = local.xray_policy_arn
}
