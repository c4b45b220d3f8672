# Static hosting of the page (www/ with the built pkg/): a private bucket read only by
# CloudFront through origin access control, served with the right content types (wasm as
# application/wasm, which WebAssembly.instantiateStreaming insists on) and security headers.

locals {
  site_bucket_name = "${local.name}-site"
  content_types = {
    ".html"  = "text/html; charset=utf-8"
    ".js"    = "text/javascript; charset=utf-8"
    ".mjs"   = "text/javascript; charset=utf-8"
    ".css"   = "text/css; charset=utf-8"
    ".json"  = "application/json"
    ".wasm"  = "application/wasm"
    ".ts"    = "text/plain; charset=utf-8"
    ".map"   = "application/json"
    ".svg"   = "image/svg+xml"
    ".png"   = "image/png"
    ".ico"   = "image/x-icon"
    ".txt"   = "text/plain; charset=utf-8"
    ".woff2" = "font/woff2"
  }
  site_files = var.create_site && var.site_source_dir != null ? fileset(var.site_source_dir, "**") : toset([])
  # What the page may connect to: the presign function URL, S3 and Bedrock in this region.
  default_csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src ${local.connect_src}; img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
  connect_src = join(" ", [
    "'self'",
    "https://*.lambda-url.${local.region}.on.aws",
    "https://s3.${local.region}.amazonaws.com",
    "https://*.s3.${local.region}.amazonaws.com",
    "https://bedrock-runtime.${local.region}.amazonaws.com",
  ])
}

resource "aws_s3_bucket" "site" {
  # checkov:skip=CKV_AWS_144:The site is rebuilt from the repository; replication adds nothing.
  # checkov:skip=CKV2_AWS_62:Nothing consumes the site bucket's events.
  # checkov:skip=CKV_AWS_18:Access logging goes to var.access_log_bucket when set (aws_s3_bucket_logging below).
  # checkov:skip=CKV_AWS_145:SSE-S3: CloudFront's origin access control reads it without a KMS key policy, and the files are public through CloudFront anyway.
  count = var.create_site ? 1 : 0

  bucket = local.site_bucket_name
  tags   = local.tags
}

resource "aws_s3_bucket_ownership_controls" "site" {
  count = var.create_site ? 1 : 0

  bucket = aws_s3_bucket.site[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "site" {
  count = var.create_site ? 1 : 0

  bucket                  = aws_s3_bucket.site[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "site" {
  count = var.create_site ? 1 : 0

  bucket = aws_s3_bucket.site[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "site" {
  count = var.create_site ? 1 : 0

  bucket = aws_s3_bucket.site[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "site" {
  count = var.create_site ? 1 : 0

  bucket = aws_s3_bucket.site[0].id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.site]
}

resource "aws_s3_bucket_logging" "site" {
  count = var.create_site && var.access_log_bucket != null ? 1 : 0

  bucket        = aws_s3_bucket.site[0].id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/${aws_s3_bucket.site[0].id}/"
}

data "aws_iam_policy_document" "site_bucket" {
  count = var.create_site ? 1 : 0

  statement {
    sid       = "CloudFrontReadsThroughOAC"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.site[0].arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.site[0].arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.site[0].arn, "${aws_s3_bucket.site[0].arn}/*"]

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

resource "aws_s3_bucket_policy" "site" {
  count = var.create_site ? 1 : 0

  bucket = aws_s3_bucket.site[0].id
  policy = data.aws_iam_policy_document.site_bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.site]
}

resource "aws_cloudfront_origin_access_control" "site" {
  count = var.create_site ? 1 : 0

  name                              = local.site_bucket_name
  description                       = "CloudFront reads ${local.site_bucket_name}"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "site" {
  count = var.create_site ? 1 : 0

  name = "${local.name}-site-security"

  security_headers_config {
    content_security_policy {
      # The default allows wasm-unsafe-eval (compiling the s3vec module) and nothing inline.
      content_security_policy = coalesce(var.site_content_security_policy, local.default_csp)
      override                = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
  }
}

data "aws_cloudfront_cache_policy" "optimized" {
  count = var.create_site ? 1 : 0

  name = "Managed-CachingOptimized"
}

resource "aws_cloudfront_distribution" "site" {
  # checkov:skip=CKV_AWS_174:The default *.cloudfront.net certificate fixes the minimum protocol; a custom domain with its own ACM certificate is per deployment.
  # checkov:skip=CKV2_AWS_42:Same: no custom domain, so no custom certificate.
  # checkov:skip=CKV_AWS_68:A WAF web ACL costs per month; attach one with cloudfront_web_acl_arn.
  # checkov:skip=CKV2_AWS_47:Same: the WAF (and its Log4j rule set) is optional, via cloudfront_web_acl_arn.
  # checkov:skip=CKV_AWS_86:Standard logs need an ACL-enabled log bucket; set access_log_bucket.
  # checkov:skip=CKV_AWS_310:One origin, the site bucket: there is nothing to fail over to.
  # checkov:skip=CKV_AWS_374:The page is for everyone; no geo restriction.
  count = var.create_site ? 1 : 0

  enabled             = true
  comment             = "${local.name} s3vec site"
  default_root_object = "index.html"
  http_version        = "http2and3"
  is_ipv6_enabled     = true
  price_class         = var.cloudfront_price_class
  web_acl_id          = var.cloudfront_web_acl_arn

  origin {
    origin_id                = "site"
    domain_name              = aws_s3_bucket.site[0].bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.site[0].id
  }

  default_cache_behavior {
    target_origin_id           = "site"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    viewer_protocol_policy     = "redirect-to-https"
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized[0].id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.site[0].id
  }

  dynamic "logging_config" {
    for_each = var.access_log_bucket == null ? [] : [var.access_log_bucket]
    content {
      bucket = "${logging_config.value}.s3.amazonaws.com"
      prefix = "cloudfront/${local.name}/"
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  tags = local.tags
}

resource "aws_s3_object" "site" {
  for_each = local.site_files

  bucket        = aws_s3_bucket.site[0].id
  key           = each.value
  source        = "${var.site_source_dir}/${each.value}"
  source_hash   = filemd5("${var.site_source_dir}/${each.value}")
  content_type  = lookup(local.content_types, try(regex("\\.[^./]+$", each.value), ""), "application/octet-stream")
  cache_control = endswith(each.value, ".html") ? "no-cache" : "public, max-age=300"
  tags          = local.tags
}

# What the page needs to start, next to it: fetch("s3vec-config.json").
resource "aws_s3_object" "site_config" {
  count = var.create_site ? 1 : 0

  bucket        = aws_s3_bucket.site[0].id
  key           = "s3vec-config.json"
  content       = jsonencode(local.page_config)
  content_type  = "application/json"
  cache_control = "no-cache"
  tags          = local.tags
}
