variable "project" {
  description = "Project name: the first part of every name, as in `${project}-${env}-vector-${purpose}`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,20}[a-z0-9]$", var.project))
    error_message = "project must be 2 to 22 lowercase letters, digits or '-', starting and ending with a letter or digit."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod, ...): the second part of every name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{1,10}$", var.environment))
    error_message = "environment must be 1 to 10 lowercase letters or digits."
  }
}

variable "vector_bucket_purposes" {
  description = "One vector bucket per purpose, named `${project}-${environment}-vector-${purpose}`."
  type        = list(string)
  default     = ["docs"]

  validation {
    condition     = length(var.vector_bucket_purposes) > 0 && alltrue([for p in var.vector_bucket_purposes : can(regex("^[a-z0-9][a-z0-9-]{0,24}$", p))])
    error_message = "give at least one purpose, each of lowercase letters, digits and '-' (at most 25 characters)."
  }
}

variable "browser_bucket_purpose" {
  description = "Which vector bucket the browser sessions use (one of vector_bucket_purposes)."
  type        = string
  default     = "docs"
}

variable "browser_prefixes" {
  description = "Key prefixes (collections) the presign Lambda may scope sessions to; the first is the default."
  type        = list(string)
  default     = ["docs/"]

  validation {
    condition     = length(var.browser_prefixes) > 0 && alltrue([for p in var.browser_prefixes : can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$", p))])
    error_message = "each prefix is a plain path ending in '/', like docs/ (no wildcards: they would widen the policies)."
  }
}

variable "bedrock_model_id" {
  description = "The one Bedrock foundation model the browser may invoke."
  type        = string
  default     = "amazon.titan-embed-text-v2:0"
}

variable "kms_key_arn" {
  description = "KMS key for the buckets' default encryption; null uses SSE-S3 (AES256), as the seed's default."
  type        = string
  default     = null
}

variable "noncurrent_version_transition_days" {
  description = "Days before a noncurrent object version moves to GLACIER_IR."
  type        = number
  default     = 90
}

variable "noncurrent_version_expiration_days" {
  description = "Days before a noncurrent object version is deleted."
  type        = number
  default     = 180

  validation {
    condition     = var.noncurrent_version_expiration_days > var.noncurrent_version_transition_days
    error_message = "noncurrent versions must expire after they move to GLACIER_IR."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket that receives S3 server access logs of the vector and site buckets; null: no access logs."
  type        = string
  default     = null
}

variable "extra_allowed_origins" {
  description = "Browser origins allowed besides the CloudFront site (e.g. http://localhost:8080 while developing)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.extra_allowed_origins : can(regex("^https?://[a-z0-9.:\\[\\]-]+$", o))])
    error_message = "origins are scheme://host[:port], lowercase, without path or trailing slash."
  }
}

variable "lambda_zip_path" {
  description = "The presign Lambda's zip (a `bootstrap` executable for provided.al2023 x86_64); see presign-lambda/README.md."
  type        = string
}

variable "lambda_reserved_concurrency" {
  description = "Most concurrent presign executions: the hard cap on its cost, and on how far per-environment rate limits multiply."
  type        = number
  default     = 5
}

variable "lambda_memory_size" {
  description = "Presign Lambda memory, MB."
  type        = number
  default     = 128
}

variable "lambda_timeout" {
  description = "Presign Lambda timeout, seconds (the relay waits up to 25 s for Bedrock)."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "How long the presign Lambda's logs are kept."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key for the log group; null: CloudWatch's own encryption."
  type        = string
  default     = null
}

variable "session_duration_seconds" {
  description = "Lifetime of browser credentials (900 to 3600: the browser role's maximum session is 1 hour)."
  type        = number
  default     = 900

  validation {
    condition     = var.session_duration_seconds >= 900 && var.session_duration_seconds <= 3600
    error_message = "session_duration_seconds must be 900 to 3600."
  }
}

variable "write_token_sha256" {
  description = "Hex SHA-256 of the bearer token that unlocks write sessions; null: read-only for everyone, and the browser role gets no write permission at all."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.write_token_sha256 == null || can(regex("^[0-9a-f]{64}$", var.write_token_sha256))
    error_message = "write_token_sha256 is 64 lowercase hex digits: printf %s \"$TOKEN\" | sha256sum."
  }
}

variable "credentials_per_minute" {
  description = "Credential requests per caller per minute, per Lambda execution environment."
  type        = number
  default     = 10
}

variable "enable_relay" {
  description = "Serve the Bedrock CORS relay (POST /bedrock/model/{id}/invoke) from the presign function."
  type        = bool
  default     = true
}

variable "relay_per_minute" {
  description = "Relayed InvokeModel calls per caller per minute, per Lambda execution environment."
  type        = number
  default     = 600
}

variable "service_role_names" {
  description = "Existing runtime roles (Lambda, App Runner) to attach s3_vector_service_access and bedrock_invocation to."
  type        = list(string)
  default     = []
}

variable "create_site" {
  description = "Create the static site: a private bucket behind CloudFront with origin access control."
  type        = bool
  default     = true
}

variable "site_source_dir" {
  description = "Directory uploaded to the site bucket (www/ with the built pkg/ inside); null: upload nothing."
  type        = string
  default     = null
}

variable "site_content_security_policy" {
  description = "Content-Security-Policy for the page; null: self only, wasm-unsafe-eval, and connections to the function URL, S3 and Bedrock of the region."
  type        = string
  default     = null
}

variable "cloudfront_price_class" {
  description = "CloudFront price class for the site."
  type        = string
  default     = "PriceClass_100"
}

variable "cloudfront_web_acl_arn" {
  description = "WAFv2 web ACL (scope CLOUDFRONT) to attach to the site; null: none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
