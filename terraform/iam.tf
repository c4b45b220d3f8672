# The IAM layers of the seed, plus the browser role.
#
#   s3_vector_management      deployment: create and configure `${project}-*-vector-*` buckets,
#                             no object access.
#   s3_vector_service_access  runtime services: objects in those buckets, no bucket changes.
#   bedrock_invocation        runtime services: InvokeModel on the configured model.
#   browser role              assumable only by the presign Lambda; its policy is the bound of
#                             every session policy the Lambda builds (presign-lambda/src/policy.rs,
#                             checked by tests/test_policy_agreement.py).

data "aws_iam_policy_document" "s3_vector_management" {
  statement {
    sid = "ConfigureVectorBuckets"
    actions = [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      # HeadBucket, which terraform calls on every refresh, is authorised as ListBucket: it
      # shows key names, never object contents.
      "s3:ListBucket",
      "s3:GetBucketLocation",
      "s3:GetBucketTagging",
      "s3:PutBucketTagging",
      "s3:GetBucketVersioning",
      "s3:PutBucketVersioning",
      "s3:GetEncryptionConfiguration",
      "s3:PutEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:PutLifecycleConfiguration",
      "s3:GetBucketPublicAccessBlock",
      "s3:PutBucketPublicAccessBlock",
      "s3:GetBucketOwnershipControls",
      "s3:PutBucketOwnershipControls",
      "s3:GetBucketPolicy",
      "s3:PutBucketPolicy",
      "s3:DeleteBucketPolicy",
      "s3:GetBucketCORS",
      "s3:PutBucketCORS",
      "s3:GetBucketLogging",
      "s3:PutBucketLogging",
      # Read by terraform's aws_s3_bucket refresh.
      "s3:GetBucketAcl",
      "s3:GetBucketWebsite",
      "s3:GetBucketRequestPayment",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetAccelerateConfiguration",
      "s3:GetReplicationConfiguration",
    ]
    resources = [local.vector_bucket_glob]
  }
}

resource "aws_iam_policy" "s3_vector_management" {
  name        = "${local.name}-s3-vector-management"
  description = "Deployment: create and configure ${var.project}-*-vector-* buckets; no object access."
  policy      = data.aws_iam_policy_document.s3_vector_management.json
  tags        = local.tags
}

data "aws_iam_policy_document" "s3_vector_service_access" {
  statement {
    sid       = "VectorObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.vector_bucket_glob}/*"]
  }

  statement {
    sid       = "ListVectorBuckets"
    actions   = ["s3:ListBucket"]
    resources = [local.vector_bucket_glob]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "VectorBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "s3_vector_service_access" {
  name        = "${local.name}-s3-vector-service-access"
  description = "Runtime: read and write objects in ${var.project}-*-vector-* buckets; no bucket changes."
  policy      = data.aws_iam_policy_document.s3_vector_service_access.json
  tags        = local.tags
}

data "aws_iam_policy_document" "bedrock_invocation" {
  statement {
    sid       = "InvokeEmbeddingModel"
    actions   = ["bedrock:InvokeModel"]
    resources = [local.browser_model_arn]
  }
}

resource "aws_iam_policy" "bedrock_invocation" {
  name        = "${local.name}-bedrock-invocation"
  description = "Runtime: InvokeModel on ${var.bedrock_model_id}."
  policy      = data.aws_iam_policy_document.bedrock_invocation.json
  tags        = local.tags
}

resource "aws_iam_role_policy_attachment" "service_s3_vectors" {
  for_each = toset(var.service_role_names)

  role       = each.value
  policy_arn = aws_iam_policy.s3_vector_service_access.arn
}

resource "aws_iam_role_policy_attachment" "service_bedrock" {
  for_each = toset(var.service_role_names)

  role       = each.value
  policy_arn = aws_iam_policy.bedrock_invocation.arn
}

# ---- The browser role -------------------------------------------------------------------------

data "aws_iam_policy_document" "browser_trust" {
  statement {
    sid     = "PresignLambdaOnly"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.presign.arn]
    }
  }
}

# The most any browser session may do. Sessions get less: read-only unless the caller proved
# the write token, and one prefix of these.
data "aws_iam_policy_document" "browser_bound" {
  statement {
    sid       = "ReadObjects"
    actions   = ["s3:GetObject"]
    resources = [for p in var.browser_prefixes : "${local.browser_bucket_arn}/${p}*"]
  }

  dynamic "statement" {
    for_each = local.write_enabled ? [1] : []
    content {
      sid       = "WriteObjects"
      actions   = ["s3:PutObject", "s3:DeleteObject"]
      resources = [for p in var.browser_prefixes : "${local.browser_bucket_arn}/${p}*"]
    }
  }

  statement {
    sid       = "ListPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [local.browser_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for p in var.browser_prefixes : "${p}*"]
    }
  }

  statement {
    sid       = "Embed"
    actions   = ["bedrock:InvokeModel"]
    resources = [local.browser_model_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "BucketKey"
      actions   = local.write_enabled ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "browser" {
  name                 = "${local.name}-browser"
  description          = "Assumed by the presign Lambda for browser sessions, each narrowed by a session policy."
  assume_role_policy   = data.aws_iam_policy_document.browser_trust.json
  max_session_duration = 3600
  tags                 = local.tags

  lifecycle {
    precondition {
      condition     = contains(var.vector_bucket_purposes, var.browser_bucket_purpose)
      error_message = "browser_bucket_purpose must be one of vector_bucket_purposes."
    }
  }
}

resource "aws_iam_role_policy" "browser" {
  name   = "session-bound"
  role   = aws_iam_role.browser.id
  policy = data.aws_iam_policy_document.browser_bound.json
}
