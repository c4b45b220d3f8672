variable "region" {
  description = "Region to deploy to (Bedrock must offer the model there)."
  type        = string
  default     = "us-east-1"
}

variable "project" {
  description = "Project name, the first part of every name."
  type        = string
  default     = "s3vec"
}

variable "environment" {
  description = "Environment name."
  type        = string
  default     = "dev"
}

variable "lambda_zip_path" {
  description = "The presign Lambda zip, built by `make presign-zip` at the repository's root."
  type        = string
  default     = "../../../target/lambda/presign-lambda/bootstrap.zip"
}

variable "site_source_dir" {
  description = "The page to upload (www/ with pkg/ inside); null to upload nothing."
  type        = string
  default     = null
}

variable "write_token_sha256" {
  description = "SHA-256 (hex) of the token that unlocks write sessions; null: read-only."
  type        = string
  default     = null
  sensitive   = true
}

variable "extra_allowed_origins" {
  description = "Origins allowed besides the CloudFront site, e.g. a local development server."
  type        = list(string)
  default     = ["http://localhost:8080"]
}
