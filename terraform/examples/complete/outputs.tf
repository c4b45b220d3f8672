output "page_config" {
  description = "What the page needs to start (also served as s3vec-config.json)."
  value       = module.s3vec.page_config
}

output "site_url" {
  description = "The page."
  value       = module.s3vec.site_url
}

output "vector_bucket_names" {
  description = "Vector buckets by purpose."
  value       = module.s3vec.vector_bucket_names
}

output "s3_vector_management_policy_arn" {
  description = "For the deployment role."
  value       = module.s3vec.s3_vector_management_policy_arn
}

output "s3_vector_service_policy_arn" {
  description = "For runtime roles."
  value       = module.s3vec.s3_vector_service_policy_arn
}

output "bedrock_invocation_policy_arn" {
  description = "For runtime roles that embed."
  value       = module.s3vec.bedrock_invocation_policy_arn
}
