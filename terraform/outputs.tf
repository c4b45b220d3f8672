locals {
  presign_url = trimsuffix(aws_lambda_function_url.presign.function_url, "/")
  page_config = {
    credentialsUrl = "${local.presign_url}/credentials"
    relayUrl       = var.enable_relay ? "${local.presign_url}/bedrock" : null
    region         = local.region
    bucket         = local.browser_bucket_name
    prefix         = var.browser_prefixes[0]
    modelId        = var.bedrock_model_id
  }
}

output "vector_bucket_names" {
  description = "Vector bucket names by purpose (`${project}-${env}-vector-${purpose}`)."
  value       = { for purpose, b in aws_s3_bucket.vector : purpose => b.id }
}

output "vector_bucket_arns" {
  description = "Vector bucket ARNs by purpose."
  value       = { for purpose, b in aws_s3_bucket.vector : purpose => b.arn }
}

output "s3_vector_management_policy_arn" {
  description = "Attach to the deployment role (e.g. GitHub Actions): configure vector buckets, no object access."
  value       = aws_iam_policy.s3_vector_management.arn
}

output "s3_vector_service_policy_arn" {
  description = "Attach to runtime roles: read and write vector objects, no bucket changes."
  value       = aws_iam_policy.s3_vector_service_access.arn
}

output "bedrock_invocation_policy_arn" {
  description = "Attach to runtime roles that embed text: InvokeModel on the configured model."
  value       = aws_iam_policy.bedrock_invocation.arn
}

output "browser_role_arn" {
  description = "The role browser sessions are issued from (assumable by the presign Lambda only)."
  value       = aws_iam_role.browser.arn
}

output "presign_function_name" {
  description = "The presign Lambda's name."
  value       = aws_lambda_function.presign.function_name
}

output "credentials_url" {
  description = "POST here for temporary credentials (the page's credentialsUrl)."
  value       = local.page_config.credentialsUrl
}

output "bedrock_relay_url" {
  description = "Base URL of the Bedrock CORS relay (append /model/{modelId}/invoke), or null when disabled."
  value       = local.page_config.relayUrl
}

output "allowed_origins" {
  description = "Origins granted CORS by the vector buckets and the presign Lambda."
  value       = local.allowed_origins
}

output "site_url" {
  description = "The page's URL (CloudFront), or null without a site."
  value       = var.create_site ? "https://${aws_cloudfront_distribution.site[0].domain_name}" : null
}

output "site_bucket_name" {
  description = "Where to upload www/ and pkg/ (when site_source_dir is not used)."
  value       = var.create_site ? aws_s3_bucket.site[0].id : null
}

output "cloudfront_distribution_id" {
  description = "For cache invalidations after an upload."
  value       = var.create_site ? aws_cloudfront_distribution.site[0].id : null
}

output "page_config" {
  description = "Everything the page needs to start; also uploaded as s3vec-config.json beside it."
  value       = local.page_config
}
