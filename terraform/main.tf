# s3vec on AWS: vector buckets named as the seed names them, the IAM layers around them, the
# presign Lambda that hands browsers narrowed credentials, and static hosting for the page.
# The resources are grouped by file: vector_buckets.tf, iam.tf, lambda.tf, site.tf.

data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.region
  name      = "${var.project}-${var.environment}"

  # ${project}-${env}-vector-${purpose}: the management policy's `${project}-*-vector-*`
  # pattern covers every environment's buckets and nothing else.
  vector_bucket_names = { for purpose in var.vector_bucket_purposes : purpose => "${local.name}-vector-${purpose}" }
  vector_bucket_arns  = { for purpose, name in local.vector_bucket_names : purpose => "arn:${local.partition}:s3:::${name}" }
  vector_bucket_glob  = "arn:${local.partition}:s3:::${var.project}-*-vector-*"

  browser_bucket_name = local.vector_bucket_names[var.browser_bucket_purpose]
  browser_bucket_arn  = local.vector_bucket_arns[var.browser_bucket_purpose]
  browser_model_arn   = "arn:${local.partition}:bedrock:${local.region}::foundation-model/${var.bedrock_model_id}"
  write_enabled       = var.write_token_sha256 != null

  site_origin     = var.create_site ? ["https://${aws_cloudfront_distribution.site[0].domain_name}"] : []
  allowed_origins = distinct(concat(local.site_origin, var.extra_allowed_origins))

  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
  })
}
