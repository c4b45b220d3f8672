# The vector buckets, configured as the seed requires: versioning, default encryption, no public
# access, TLS only, noncurrent versions to GLACIER_IR then expired, and CORS for the site.

resource "aws_s3_bucket" "vector" {
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per deployment; shards can be rebuilt from the source corpus.
  # checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; writers publish through the manifest's compare-and-swap.
  # checkov:skip=CKV_AWS_18:Access logging goes to var.access_log_bucket when set (aws_s3_bucket_logging below); a log bucket is per account, not per module.
  # checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is the seed's default; set kms_key_arn for SSE-KMS.
  for_each = local.vector_bucket_names

  bucket = each.value
  tags   = merge(local.tags, { Purpose = each.key })
}

resource "aws_s3_bucket_ownership_controls" "vector" {
  for_each = aws_s3_bucket.vector

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "vector" {
  for_each = aws_s3_bucket.vector

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "vector" {
  for_each = aws_s3_bucket.vector

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "vector" {
  for_each = aws_s3_bucket.vector

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # One KMS call per bucket-key period instead of per object: shards are read often.
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "vector" {
  for_each = aws_s3_bucket.vector

  bucket = each.value.id

  rule {
    id     = "archive-old-versions"
    status = "Enabled"
    filter {}

    noncurrent_version_transition {
      noncurrent_days = var.noncurrent_version_transition_days
      storage_class   = "GLACIER_IR"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.vector]
}

resource "aws_s3_bucket_cors_configuration" "vector" {
  for_each = aws_s3_bucket.vector

  bucket = each.value.id
  cors_rule {
    allowed_origins = local.allowed_origins
    allowed_methods = ["GET", "HEAD", "PUT", "POST", "DELETE"]
    # What SigV4 and conditional writes send from the browser.
    allowed_headers = ["authorization", "content-type", "content-md5", "range", "if-match", "if-none-match", "x-amz-*", "amz-sdk-*"]
    expose_headers  = ["ETag", "Content-Range", "Content-Length", "x-amz-request-id", "x-amz-id-2", "x-amz-version-id"]
    max_age_seconds = 3000
  }
}

data "aws_iam_policy_document" "vector_bucket" {
  for_each = aws_s3_bucket.vector

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "vector" {
  for_each = aws_s3_bucket.vector

  bucket = each.value.id
  policy = data.aws_iam_policy_document.vector_bucket[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.vector]
}

resource "aws_s3_bucket_logging" "vector" {
  for_each = var.access_log_bucket == null ? {} : aws_s3_bucket.vector

  bucket        = each.value.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/${each.value.id}/"
}
